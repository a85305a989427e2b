//! 个人信息 — finding personal data in cell text (DESIGN §7): ID card numbers with a valid
//! GB 11643 check digit, mobile and landline numbers, bank cards passing Luhn, e-mail addresses.
//! Hand-written byte scanners, found inside longer text too at token boundaries. Findings carry
//! row numbers only, never the values.

use serde::{Deserialize, Serialize};

/// A kind of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiKind {
    /// 居民身份证号码 (GB 11643, 18 characters with check digit)
    IdCard,
    /// 手机号码 (mainland, 11 digits starting 13–19)
    Mobile,
    /// 银行卡号 (16–19 digits passing Luhn)
    BankCard,
    /// 电子邮箱
    Email,
    /// 固定电话 (0 + area code + 7–8 digits)
    Landline,
}

impl PiiKind {
    pub const ALL: [PiiKind; 5] = [
        PiiKind::IdCard,
        PiiKind::Mobile,
        PiiKind::BankCard,
        PiiKind::Email,
        PiiKind::Landline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PiiKind::IdCard => "id_card",
            PiiKind::Mobile => "mobile",
            PiiKind::BankCard => "bank_card",
            PiiKind::Email => "email",
            PiiKind::Landline => "landline",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The kinds found in one text, as a bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PiiSet(u8);

impl PiiSet {
    pub fn contains(self, k: PiiKind) -> bool {
        self.0 & k.bit() != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    fn insert(&mut self, k: PiiKind) {
        self.0 |= k.bit();
    }
    pub fn kinds(self) -> impl Iterator<Item = PiiKind> {
        PiiKind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

/// GB 11643-1999: 17 digits, then a check digit (0–9 or X) from the weighted sum mod 11, with
/// a plausible birth date (1900–2099) in positions 7–14 and a non-zero region code.
pub fn id_card_valid(s: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = s.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return false;
    }
    let sum: u32 = b[..17].iter().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    if b[17].to_ascii_uppercase() != CHECK[(sum % 11) as usize] {
        return false;
    }
    let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let year = num(6..10);
    (1900..=2099).contains(&year) && crate::value::valid_ymd(year as u16, num(10..12), num(12..14))
}

/// The Luhn (mod 10) check used by bank card numbers.
pub fn luhn_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    matches!(sum % 10, 0)
}

/// Scans a text for personal data of every kind.
pub fn scan(text: &str) -> PiiSet {
    let b = text.as_bytes();
    let mut found = PiiSet::default();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            if left_boundary(b, i) {
                i = digit_token(b, i, &mut found);
            } else {
                while i < b.len() && b[i].is_ascii_alphanumeric() {
                    i += 1;
                }
            }
        } else if c == b'@' {
            i = email_at(b, i, &mut found);
        } else {
            i += 1;
        }
    }
    found
}

fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'@'
}

fn left_boundary(b: &[u8], i: usize) -> bool {
    if i == 0 {
        return true;
    }
    let p = b[i - 1];
    !(word_byte(p) || (p == b'.' && i >= 2 && b[i - 2].is_ascii_digit()))
}

fn right_boundary(b: &[u8], end: usize) -> bool {
    if end >= b.len() {
        return true;
    }
    let n = b[end];
    !(word_byte(n) || (n == b'.' && end + 1 < b.len() && b[end + 1].is_ascii_digit()))
}

/// Reads digit groups separated by single spaces or dashes from `start`, classifies them, and
/// returns where scanning goes on.
fn digit_token(b: &[u8], start: usize, found: &mut PiiSet) -> usize {
    let mut groups: [(usize, usize); 6] = [(0, 0); 6];
    let mut n = 0;
    let mut i = start;
    loop {
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number may end in X.
        if n == 0 && i - s == 17 && i < b.len() && (b[i] == b'X' || b[i] == b'x') {
            i += 1;
        }
        groups[n] = (s, i);
        n += 1;
        let more = n < groups.len()
            && i + 1 < b.len()
            && (b[i] == b' ' || b[i] == b'-')
            && b[i + 1].is_ascii_digit()
            && b[i - 1].is_ascii_digit();
        if !more {
            break;
        }
        i += 1;
    }
    if !right_boundary(b, i) {
        // Part of a longer word (e.g. followed by letters or '@'): not a number by itself.
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        return i;
    }
    let groups = &groups[..n];
    if n == 1 || !classify_groups(b, groups, found) {
        for &(s, e) in groups {
            classify_run(&b[s..e], found);
        }
    }
    i
}

/// Grouped layouts: `010-12345678` (landline), `138 1234 5678` (mobile), `6222 0212 …` (card).
fn classify_groups(b: &[u8], groups: &[(usize, usize)], found: &mut PiiSet) -> bool {
    let len = |g: &(usize, usize)| g.1 - g.0;
    let first = &b[groups[0].0..groups[0].1];
    if groups.len() == 2 {
        let local = &b[groups[1].0..groups[1].1];
        if (3..=4).contains(&first.len())
            && first[0] == b'0'
            && first[1] != b'0'
            && (7..=8).contains(&local.len())
            && (b'2'..=b'8').contains(&local[0])
        {
            found.insert(PiiKind::Landline);
            return true;
        }
    }
    let mobile_groups = groups.len() == 3 && len(&groups[0]) == 3 && len(&groups[1]) == 4 && len(&groups[2]) == 4;
    if mobile_groups && first[0] == b'1' && (b'3'..=b'9').contains(&first[1]) {
        found.insert(PiiKind::Mobile);
        return true;
    }
    if groups.len() >= 4 {
        let (last, head) = groups.split_last().unwrap_or((&groups[0], &[]));
        let total: usize = groups.iter().map(len).sum();
        if head.iter().all(|g| len(g) == 4) && (1..=4).contains(&len(last)) && (16..=19).contains(&total) {
            let digits: String = groups
                .iter()
                .map(|g| std::str::from_utf8(&b[g.0..g.1]).unwrap_or(""))
                .collect();
            if first[0] != b'0' && luhn_valid(&digits) {
                found.insert(PiiKind::BankCard);
                return true;
            }
        }
    }
    false
}

/// One contiguous run of digits (an ID number may end in X).
fn classify_run(d: &[u8], found: &mut PiiSet) {
    let s = std::str::from_utf8(d).unwrap_or("");
    match d.len() {
        18 if id_card_valid(s) => found.insert(PiiKind::IdCard),
        11 if d[0] == b'1' && (b'3'..=b'9').contains(&d[1]) => found.insert(PiiKind::Mobile),
        11 | 12 if d[0] == b'0' && landline_without_dash(d) => found.insert(PiiKind::Landline),
        16..=19 if d[0] != b'0' && luhn_valid(s) => found.insert(PiiKind::BankCard),
        _ => {}
    }
}

/// `01012345678`, `075512345678`: 3-digit area codes (010, 02x) take 8-digit local numbers,
/// 4-digit ones 7 or 8; local numbers start with 2–8.
fn landline_without_dash(d: &[u8]) -> bool {
    if d[1] == b'0' {
        return false;
    }
    let area = if d[1] == b'1' || d[1] == b'2' { 3 } else { 4 };
    let local = &d[area..];
    let ok_len = if area == 3 {
        local.len() == 8
    } else {
        (7..=8).contains(&local.len())
    };
    ok_len && (b'2'..=b'8').contains(&local[0])
}

/// An e-mail address around the `@` at `at`; returns where scanning goes on.
fn email_at(b: &[u8], at: usize, found: &mut PiiSet) -> usize {
    let local_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let mut s = at;
    while s > 0 && local_byte(b[s - 1]) {
        s -= 1;
    }
    let mut e = at + 1;
    let mut dots = 0;
    let mut last_dot = 0;
    while e < b.len() && (b[e].is_ascii_alphanumeric() || b[e] == b'-' || b[e] == b'.') {
        if b[e] == b'.' {
            dots += 1;
            last_dot = e;
        }
        e += 1;
    }
    // A trailing dot ends a sentence, not the domain.
    if e > at + 1 && b[e - 1] == b'.' {
        e -= 1;
        dots -= 1;
        last_dot = b[at + 1..e].iter().rposition(|&c| c == b'.').map_or(0, |p| at + 1 + p);
    }
    let tld = if last_dot > at { &b[last_dot + 1..e] } else { &[][..] };
    if s < at && dots >= 1 && b[at + 1] != b'.' && tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic) {
        found.insert(PiiKind::Email);
    }
    e.max(at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a valid ID number from 17 digits.
    fn with_check(first17: &str) -> String {
        for c in "0123456789X".chars() {
            let s = format!("{first17}{c}");
            if id_card_valid(&s) {
                return s;
            }
        }
        panic!("no check digit for {first17}");
    }

    #[test]
    fn id_card_check_digit() {
        // The GB 11643 specimen number.
        assert!(id_card_valid("11010519491231002X"));
        assert!(id_card_valid("11010519491231002x"));
        assert!(!id_card_valid("110105194912310021"));
        // Every check character fails for a birth year of 1880, while 1980 has a valid one.
        assert!("0123456789X"
            .chars()
            .all(|k| !id_card_valid(&format!("44052418800101001{k}"))));
        assert!(id_card_valid(&with_check("44052419800101001")));
        let id = with_check("51010419900307123");
        assert!(id_card_valid(&id));
        assert!(!id_card_valid("51010419901307123X"), "month 13");
        assert!(!id_card_valid("5101041990030712"));
    }

    #[test]
    fn luhn() {
        assert!(luhn_valid("4111111111111111"));
        assert!(luhn_valid("79927398713"));
        assert!(!luhn_valid("79927398710"));
        assert!(!luhn_valid("4111111111111112"));
        assert!(!luhn_valid(""));
    }

    fn kinds(text: &str) -> Vec<PiiKind> {
        scan(text).kinds().collect()
    }

    #[test]
    fn finds_each_kind_inside_text() {
        assert_eq!(kinds("联系人身份证11010519491231002X。"), vec![PiiKind::IdCard]);
        assert_eq!(kinds("电话13812345678"), vec![PiiKind::Mobile]);
        assert_eq!(kinds("tel: 138-1234-5678"), vec![PiiKind::Mobile]);
        assert_eq!(kinds("+86 13912345678"), vec![PiiKind::Mobile]);
        assert_eq!(kinds("卡号 4111 1111 1111 1111 已挂失"), vec![PiiKind::BankCard]);
        assert_eq!(kinds("卡号4111111111111111"), vec![PiiKind::BankCard]);
        assert_eq!(kinds("写信给 zhang.san@example.com.cn。"), vec![PiiKind::Email]);
        assert_eq!(kinds("办公室 010-62345678"), vec![PiiKind::Landline]);
        assert_eq!(kinds("0755-2345678"), vec![PiiKind::Landline]);
        assert_eq!(kinds("02887654321"), vec![PiiKind::Landline]);
        assert_eq!(
            kinds("a@b.cn 13812345678"),
            vec![PiiKind::Mobile, PiiKind::Email],
            "several kinds in one cell"
        );
    }

    #[test]
    fn ignores_look_alikes() {
        assert!(scan("110101001001").is_empty(), "a 12-digit region code");
        assert!(scan("11010519491231002Y").is_empty());
        assert!(scan("110105194912310021").is_empty(), "bad check digit and fails Luhn");
        assert!(scan("abc13812345678").is_empty(), "no token boundary");
        assert!(scan("13812345678abc").is_empty());
        assert!(scan("3.13812345678").is_empty(), "a decimal number");
        assert!(scan("12812345678").is_empty(), "12x is not a mobile prefix");
        assert!(scan("4111111111111112").is_empty(), "fails Luhn");
        assert!(scan("2023-05-01").is_empty());
        assert!(scan("user@localhost").is_empty());
        assert!(scan("@example.com").is_empty());
        assert!(scan("00012345678").is_empty());
        // A valid ID number counts once, as an ID, even when it would also pass Luhn.
        let id = with_check("51010419900307123");
        assert_eq!(kinds(&id), vec![PiiKind::IdCard]);
        assert_eq!(kinds("13812345678@qq.com"), vec![PiiKind::Email]);
    }
}
