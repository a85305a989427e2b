//! Charts drawn on the server as inline SVG, so statistics pages need no JavaScript: ranking
//! bars, trend lines and a radar. Pure functions of their data; every label is XML-escaped.
//! Scores are on a 0–100 scale; colours come from the stylesheet's `chart-*` classes.

use std::fmt::Write;

/// Escapes text for SVG (XML) content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn clamp(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(0.0, 100.0)
    } else {
        0.0
    }
}

fn open(class: &str, title: &str, width: f64, height: f64) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart {class}\" role=\"img\" aria-label=\"{t}\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\"><title>{t}</title>",
        t = escape(title)
    )
}

fn empty(class: &str, title: &str, text: &str) -> String {
    let mut s = open(class, title, 320.0, 40.0);
    let _ = write!(
        s,
        "<text class=\"chart-empty\" x=\"8\" y=\"24\">{}</text></svg>",
        escape(text)
    );
    s
}

/// One bar: a label and a 0–100 value (none: no bar, a dash).
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
}

/// Where bars start and how long 100 is.
const BAR_X: f64 = 220.0;
const BAR_MAX: f64 = 360.0;
const BAR_ROW: f64 = 26.0;

/// Horizontal bars, one per item in the given order, lengths proportional to the values.
pub fn bars(title: &str, items: &[Bar], empty_text: &str) -> String {
    if items.is_empty() {
        return empty("chart-bars", title, empty_text);
    }
    let height = BAR_ROW * items.len() as f64 + 8.0;
    let mut s = open("chart-bars", title, BAR_X + BAR_MAX + 60.0, height);
    for (i, b) in items.iter().enumerate() {
        let y = 4.0 + BAR_ROW * i as f64;
        let _ = write!(
            s,
            "<text class=\"chart-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            BAR_X - 8.0,
            y + 16.0,
            escape(&b.label)
        );
        match b.value {
            Some(v) => {
                let w = BAR_MAX * clamp(v) / 100.0;
                let _ = write!(
                    s,
                    "<rect class=\"chart-bar\" x=\"{BAR_X:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"18\"/>\
                     <text class=\"chart-value\" x=\"{:.1}\" y=\"{:.1}\">{v}</text>",
                    y + 3.0,
                    BAR_X + w + 6.0,
                    y + 16.0
                );
            }
            None => {
                let _ = write!(
                    s,
                    "<text class=\"chart-value\" x=\"{:.1}\" y=\"{:.1}\">—</text>",
                    BAR_X + 6.0,
                    y + 16.0
                );
            }
        }
    }
    s.push_str("</svg>");
    s
}

/// One line of a trend chart: a name and one 0–100 value per period (none: a gap).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub values: Vec<Option<f64>>,
}

const PLOT_X: f64 = 40.0;
const PLOT_W: f64 = 480.0;
const PLOT_Y: f64 = 12.0;
const PLOT_H: f64 = 200.0;

fn point(i: usize, n: usize, v: f64) -> (f64, f64) {
    let x = if n <= 1 {
        PLOT_X + PLOT_W / 2.0
    } else {
        PLOT_X + PLOT_W * i as f64 / (n - 1) as f64
    };
    (x, PLOT_Y + PLOT_H * (1.0 - clamp(v) / 100.0))
}

/// Lines over the periods `x_labels` (oldest first), one per series, with a legend.
pub fn lines(title: &str, x_labels: &[String], series: &[Series], empty_text: &str) -> String {
    if x_labels.is_empty() || series.iter().all(|s| s.values.iter().all(Option::is_none)) {
        return empty("chart-lines", title, empty_text);
    }
    let legend_h = 20.0 * series.len() as f64;
    let height = PLOT_Y + PLOT_H + 36.0 + legend_h;
    let mut s = open("chart-lines", title, PLOT_X + PLOT_W + 40.0, height);
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let (_, y) = point(0, 2, tick);
        let _ = write!(
            s,
            "<line class=\"chart-grid\" x1=\"{PLOT_X:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"chart-axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            PLOT_X + PLOT_W,
            PLOT_X - 6.0,
            y + 4.0
        );
    }
    let n = x_labels.len();
    for (i, label) in x_labels.iter().enumerate() {
        let (x, _) = point(i, n, 0.0);
        let _ = write!(
            s,
            "<text class=\"chart-axis\" x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            PLOT_Y + PLOT_H + 18.0,
            escape(label)
        );
    }
    for (k, line) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = line
            .values
            .iter()
            .enumerate()
            .take(n)
            .filter_map(|(i, v)| v.map(|v| point(i, n, v)))
            .collect();
        let path: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let _ = write!(
            s,
            "<g class=\"chart-series chart-series-{}\"><polyline fill=\"none\" points=\"{}\"/>",
            k % 8,
            path.join(" ")
        );
        for (x, y) in &pts {
            let _ = write!(s, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\"/>");
        }
        let ly = PLOT_Y + PLOT_H + 36.0 + 20.0 * k as f64;
        let _ = write!(
            s,
            "<rect x=\"{PLOT_X:.1}\" y=\"{:.1}\" width=\"12\" height=\"12\"/>\
             <text class=\"chart-label\" x=\"{:.1}\" y=\"{ly:.1}\">{}</text></g>",
            ly - 10.0,
            PLOT_X + 18.0,
            escape(&line.name)
        );
    }
    s.push_str("</svg>");
    s
}

const RADAR_C: f64 = 160.0;
const RADAR_R: f64 = 100.0;

/// The point at `value` (0–100) on axis `i` of `n`, the first axis straight up, clockwise.
fn radar_point(i: usize, n: usize, value: f64) -> (f64, f64) {
    let angle = std::f64::consts::TAU * i as f64 / n as f64;
    let r = RADAR_R * clamp(value) / 100.0;
    (RADAR_C + r * angle.sin(), RADAR_C - r * angle.cos())
}

fn polygon(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A radar of 0–100 values on named axes (an unmeasured value sits at the centre).
pub fn radar(title: &str, axes: &[String], values: &[Option<f64>], empty_text: &str) -> String {
    if axes.len() < 3 || values.iter().all(Option::is_none) {
        return empty("chart-radar", title, empty_text);
    }
    let n = axes.len();
    let mut s = open("chart-radar", title, RADAR_C * 2.0, RADAR_C * 2.0);
    for level in [25.0, 50.0, 75.0, 100.0] {
        let ring: Vec<(f64, f64)> = (0..n).map(|i| radar_point(i, n, level)).collect();
        let _ = write!(
            s,
            "<polygon class=\"chart-grid\" fill=\"none\" points=\"{}\"/>",
            polygon(&ring)
        );
    }
    for (i, axis) in axes.iter().enumerate() {
        let (x, y) = radar_point(i, n, 100.0);
        let (lx, ly) = radar_point(i, n, 125.0);
        let anchor = if (lx - RADAR_C).abs() < 1.0 {
            "middle"
        } else if lx > RADAR_C {
            "start"
        } else {
            "end"
        };
        let _ = write!(
            s,
            "<line class=\"chart-grid\" x1=\"{RADAR_C:.1}\" y1=\"{RADAR_C:.1}\" x2=\"{x:.1}\" y2=\"{y:.1}\"/>\
             <text class=\"chart-axis\" x=\"{lx:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{}</text>",
            ly + 4.0,
            escape(axis)
        );
    }
    let shape: Vec<(f64, f64)> = (0..n)
        .map(|i| radar_point(i, n, values.get(i).copied().flatten().unwrap_or(0.0)))
        .collect();
    let _ = write!(s, "<polygon class=\"chart-area\" points=\"{}\"/>", polygon(&shape));
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn widths(svg: &str) -> Vec<f64> {
        svg.split("class=\"chart-bar\"")
            .skip(1)
            .map(|r| {
                let w = r.split("width=\"").nth(1).unwrap().split('"').next().unwrap();
                w.parse().unwrap()
            })
            .collect()
    }

    #[test]
    fn bar_lengths_are_proportional_to_the_values() {
        let items = [
            Bar {
                label: "甲".into(),
                value: Some(100.0),
            },
            Bar {
                label: "乙".into(),
                value: Some(50.0),
            },
            Bar {
                label: "丙".into(),
                value: Some(12.5),
            },
            Bar {
                label: "丁".into(),
                value: None,
            },
        ];
        let svg = bars("排名", &items, "无");
        assert_eq!(widths(&svg), [360.0, 180.0, 45.0]);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains(">丁</text>") && svg.contains(">—</text>"));
        // Out of range values are held to the scale.
        let svg = bars(
            "t",
            &[Bar {
                label: "x".into(),
                value: Some(140.0),
            }],
            "",
        );
        assert_eq!(widths(&svg), [360.0]);
    }

    #[test]
    fn labels_and_titles_are_escaped() {
        let evil = "<script>alert(\"x\")</script>&'";
        let svg = bars(
            evil,
            &[Bar {
                label: evil.into(),
                value: Some(1.0),
            }],
            "",
        );
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"));
        let svg = lines(
            evil,
            &[evil.to_string()],
            &[Series {
                name: evil.into(),
                values: vec![Some(3.0)],
            }],
            "",
        );
        assert!(!svg.contains("<script>"));
        let axes: Vec<String> = (0..3).map(|_| evil.to_string()).collect();
        assert!(!radar(evil, &axes, &[Some(1.0); 3], "").contains("<script>"));
    }

    #[test]
    fn empty_data_says_so() {
        for svg in [
            bars("t", &[], "暂无数据"),
            lines("t", &[], &[], "暂无数据"),
            lines("t", &["2026-11".into()], &[], "暂无数据"),
            radar("t", &["a".into(), "b".into(), "c".into()], &[None; 3], "暂无数据"),
        ] {
            assert!(svg.contains("class=\"chart-empty\""), "{svg}");
            assert!(svg.contains(">暂无数据</text>"));
            assert!(!svg.contains("<rect") && !svg.contains("<polyline") && !svg.contains("chart-area"));
        }
    }

    #[test]
    fn trend_points_follow_the_values() {
        let svg = lines(
            "趋势",
            &["2026-10".into(), "2026-11".into(), "2026-12".into()],
            &[Series {
                name: "甲".into(),
                values: vec![Some(0.0), None, Some(100.0)],
            }],
            "",
        );
        // x from 40 to 520; 0 at the bottom (y 212), 100 at the top (y 12); the gap is skipped.
        assert!(svg.contains("points=\"40.0,212.0 520.0,12.0\""), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 2);
    }

    #[test]
    fn the_radar_puts_the_first_axis_straight_up() {
        let axes: Vec<String> = ["完整性", "有效性", "一致性", "规范性"].map(String::from).to_vec();
        let svg = radar("质量", &axes, &[Some(100.0), Some(50.0), None, Some(0.0)], "");
        // 100 up: (160, 60); 50 right: (210, 160); unmeasured and 0 at the centre.
        assert!(
            svg.contains("class=\"chart-area\" points=\"160.0,60.0 210.0,160.0 160.0,160.0 160.0,160.0\""),
            "{svg}"
        );
        assert_eq!(svg.matches(">完整性</text>").count(), 1);
    }
}
