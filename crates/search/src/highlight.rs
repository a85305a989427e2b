//! HTML for a hit's title and summary: escaped, with the words that matched in `<mark>`. It
//! analyses the text like the index does, so Chinese words and pinyin matches are marked too.

use crate::analysis;
use crate::query::Marks;

/// Characters of summary shown in a snippet.
pub(crate) const SNIPPET_CHARS: usize = 120;
/// Characters of context kept before the first mark of a snippet.
const LEAD_CHARS: usize = 15;

pub(crate) fn title_html(title: &str, marks: &Marks) -> String {
    let ranges = if marks.is_empty() {
        Vec::new()
    } else {
        matched(title, marks)
    };
    let mut out = String::with_capacity(title.len() + 16);
    write_marked(&mut out, title, &ranges);
    out
}

pub(crate) fn snippet_html(summary: &str, marks: &Marks) -> String {
    let ranges = if marks.is_empty() {
        Vec::new()
    } else {
        matched(summary, marks)
    };
    let chars: Vec<usize> = summary.char_indices().map(|(i, _)| i).collect();
    let mut out = String::with_capacity(SNIPPET_CHARS * 4);
    if chars.len() <= SNIPPET_CHARS {
        write_marked(&mut out, summary, &ranges);
        return out;
    }
    let byte_at = |c: usize| chars.get(c).copied().unwrap_or(summary.len());
    let char_at = |b: usize| chars.partition_point(|&i| i < b);
    let mut start = best_window_start(&ranges, &chars);
    start = start.min(chars.len() - SNIPPET_CHARS);
    let end = start + SNIPPET_CHARS;
    let (from, to) = (byte_at(start), byte_at(end));
    let inside: Vec<(usize, usize)> = ranges
        .iter()
        .filter(|&&(s, e)| s >= from && e <= to)
        .map(|&(s, e)| (s - from, e - from))
        .collect();
    if start > 0 {
        out.push('…');
    }
    write_marked(&mut out, &summary[from..to], &inside);
    if char_at(to) < chars.len() {
        out.push('…');
    }
    out
}

/// The start (in characters) of the window that holds the most marks.
fn best_window_start(ranges: &[(usize, usize)], chars: &[usize]) -> usize {
    let char_at = |b: usize| chars.partition_point(|&i| i < b);
    let mut best = (0, 0);
    for &(s, _) in ranges {
        let start = char_at(s).saturating_sub(LEAD_CHARS);
        let end = start + SNIPPET_CHARS;
        let count = ranges
            .iter()
            .filter(|&&(s, e)| char_at(s) >= start && char_at(e) <= end)
            .count();
        if count > best.1 {
            best = (start, count);
        }
    }
    best.0
}

/// Byte ranges of the words that match, merged where they touch or overlap.
fn matched(text: &str, marks: &Marks) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    analysis::analyze(text, |term| {
        let hit = marks.terms.contains(&term.text)
            || (!marks.pinyin.is_empty()
                && analysis::pinyin_keys(&term.text).iter().any(|key| {
                    marks
                        .pinyin
                        .iter()
                        .any(|typed| key == typed || (typed.len() >= 3 && key.starts_with(typed.as_str())))
                }));
        if hit && term.from < term.to {
            ranges.push((term.from, term.to));
        }
    });
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (s, e) in ranges {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Writes `text` escaped, with the (sorted, disjoint) byte `ranges` in `<mark>`.
fn write_marked(out: &mut String, text: &str, ranges: &[(usize, usize)]) {
    let mut at = 0;
    for &(s, e) in ranges {
        if s < at || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            continue;
        }
        escape_into(out, &text[at..s]);
        out.push_str("<mark>");
        escape_into(out, &text[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape_into(out, &text[at..]);
}

pub(crate) fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(terms: &[&str], pinyin: &[&str]) -> Marks {
        Marks {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            pinyin: pinyin.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn overlapping_words_make_one_mark() {
        let m = marks(&["住房", "公积金", "住房公积金"], &[]);
        assert_eq!(
            title_html("住房公积金缴存单位信息", &m),
            "<mark>住房公积金</mark>缴存单位信息"
        );
    }

    #[test]
    fn html_is_escaped_inside_and_outside_marks() {
        let m = marks(&["school"], &[]);
        assert_eq!(
            title_html("<b>Schools</b> & 'x' \"y\"", &m),
            "&lt;b&gt;<mark>Schools</mark>&lt;/b&gt; &amp; &#39;x&#39; &quot;y&quot;"
        );
    }

    #[test]
    fn pinyin_marks_the_chinese_word() {
        let m = marks(&["gjj"], &["gjj"]);
        assert_eq!(title_html("住房公积金管理中心", &m), "住房<mark>公积金</mark>管理中心");
    }

    #[test]
    fn long_summaries_are_cut_around_the_first_marks() {
        let summary = format!("{}空气质量{}", "数".repeat(300), "据".repeat(300));
        let html = snippet_html(&summary, &marks(&["空气质量"], &[]));
        assert!(html.starts_with('…') && html.ends_with('…'), "{html}");
        assert!(html.contains("<mark>空气质量</mark>"), "{html}");
        assert!(html.chars().count() < SNIPPET_CHARS + 20);
        let plain = snippet_html(&summary, &Marks::default());
        assert_eq!(plain.chars().count(), SNIPPET_CHARS + 1);
    }
}
