//! Text analysis shared by indexing, queries and highlighting, so all three cut text the same
//! way: full-width folding, lower-casing, jieba search-mode segmentation, English stemming, pinyin.

use std::cell::RefCell;
use std::sync::LazyLock;

use jieba_rs::Jieba;
use pinyin::ToPinyinMulti;
use tantivy::tokenizer::{
    Language, RawTokenizer, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer, TokenizerManager,
};

/// Name of the analyser of every Chinese/English text field.
pub(crate) const TEXT: &str = "pubdata_text";
/// Name of the analyser that turns Chinese text into pinyin spellings and initials.
pub(crate) const PINYIN: &str = "pubdata_pinyin";

/// Longer terms are dropped: they are noise (a pasted blob) and tantivy refuses very long ones.
const MAX_TERM_BYTES: usize = 100;
/// Readings per word kept for pinyin: enough for the common 多音字 (银行 yinhang/yinxing), few
/// enough that a word of many heteronyms does not blow up.
const MAX_PINYIN_VARIANTS: usize = 4;

static DOMAIN_DICT: &str = include_str!("../dict/domain.txt");

static JIEBA: LazyLock<Jieba> = LazyLock::new(|| {
    let mut jieba = Jieba::new();
    for line in DOMAIN_DICT.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        if let Some(word) = parts.next() {
            let freq = parts.next().and_then(|f| f.parse().ok());
            jieba.add_word(word, freq, None);
        }
    }
    jieba
});

thread_local! {
    static STEMMER: RefCell<TextAnalyzer> =
        RefCell::new(TextAnalyzer::builder(RawTokenizer::default()).filter(Stemmer::new(Language::English)).build());
}

/// Loads the dictionaries now rather than on the first document or query (~0.2 s).
pub(crate) fn warm_up() {
    LazyLock::force(&JIEBA);
}

/// Registers both analysers with an index (tantivy does not persist tokenizers).
pub(crate) fn register(manager: &TokenizerManager) {
    manager.register(TEXT, TextAnalyzer::from(TextTokenizer::default()));
    manager.register(PINYIN, TextAnalyzer::from(PinyinTokenizer::default()));
}

/// One analysed term.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    /// The term as indexed: lower-case, half-width, stemmed when English.
    pub text: String,
    /// Byte offsets in the original text.
    pub from: usize,
    pub to: usize,
    /// Position of the word it belongs to; a word's parts share its position.
    pub position: usize,
    /// False for a part of a longer word: a dictionary 2- or 3-gram inside a Chinese word
    /// (公积金 inside 住房公积金) or a piece of a dotted/dashed ASCII word.
    pub whole: bool,
}

/// Cuts `text` into terms: per jieba word, first its parts, then the word itself.
pub(crate) fn analyze(text: &str, mut sink: impl FnMut(Term)) {
    let folded = Folded::new(text);
    let mut position = 0;
    for token in JIEBA.cut(&folded.text, true) {
        let word = token.word;
        if !word.chars().any(char::is_alphanumeric) {
            continue;
        }
        let base = token.byte_start;
        let mut emit = |start: usize, end: usize, whole: bool| {
            let part = &word[start..end];
            if part.len() <= MAX_TERM_BYTES {
                sink(Term {
                    text: stem(part),
                    from: folded.original(base + start),
                    to: folded.original(base + end),
                    position,
                    whole,
                });
            }
        };
        for (start, end) in parts(word) {
            emit(start, end, false);
        }
        emit(0, word.len(), true);
        position += 1;
    }
}

/// Byte ranges of the parts of a word worth finding on their own.
fn parts(word: &str) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    if word.is_ascii() {
        if word.contains(['.', '_', '-']) {
            let mut start = 0;
            for piece in word.split(['.', '_', '-']) {
                if piece.len() >= 2 {
                    found.push((start, start + piece.len()));
                }
                start += piece.len() + 1;
            }
        }
        return found;
    }
    let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
    let chars = bounds.len() - 1;
    for (len, min_chars) in [(2, 3), (3, 4)] {
        if chars < min_chars {
            continue;
        }
        for i in 0..=chars - len {
            let gram = &word[bounds[i]..bounds[i + len]];
            if JIEBA.has_word(gram) && !found.iter().any(|&(s, e)| &word[s..e] == gram) {
                found.push((bounds[i], bounds[i + len]));
            }
        }
    }
    found
}

/// English words are stemmed (`schools` → `school`); everything else is kept as is.
fn stem(word: &str) -> String {
    if !word.bytes().any(|b| b.is_ascii_lowercase()) || !word.is_ascii() {
        return word.to_string();
    }
    STEMMER.with(|stemmer| {
        let mut stemmer = stemmer.borrow_mut();
        let mut stream = stemmer.token_stream(word);
        if stream.advance() {
            stream.token().text.clone()
        } else {
            word.to_string()
        }
    })
}

/// Lower-cases and folds one character, always to exactly one character, so offsets map back.
pub(crate) fn fold_char(c: char) -> char {
    let c = match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    };
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Text folded for segmentation, with the way back to the original's byte offsets.
struct Folded {
    text: String,
    /// Original byte offset of each folded byte offset (char boundaries only), plus the end.
    map: Vec<usize>,
}

impl Folded {
    fn new(original: &str) -> Folded {
        let mut text = String::with_capacity(original.len());
        let mut map = Vec::with_capacity(original.len() + 1);
        for (at, c) in original.char_indices() {
            let folded = fold_char(c);
            map.extend(std::iter::repeat_n(at, folded.len_utf8()));
            text.push(folded);
        }
        map.push(original.len());
        Folded { text, map }
    }

    fn original(&self, folded_offset: usize) -> usize {
        self.map.get(folded_offset).or(self.map.last()).copied().unwrap_or(0)
    }
}

pub(crate) fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

/// Toneless pinyin of a Chinese word: its full spellings joined (`gongjijin`) and its initials
/// (`gjj`), a few readings each for 多音字. Empty unless every character is Han.
pub(crate) fn pinyin_keys(word: &str) -> Vec<String> {
    let mut full = vec![String::new()];
    let mut initials = vec![String::new()];
    for c in word.chars() {
        let Some(readings) = (is_han(c)).then(|| c.to_pinyin_multi()).flatten() else {
            return Vec::new();
        };
        let mut spellings: Vec<String> = Vec::new();
        for reading in readings {
            let spelling = reading.plain().replace('ü', "v");
            if !spelling.is_empty() && !spellings.contains(&spelling) {
                spellings.push(spelling);
            }
        }
        if spellings.is_empty() {
            return Vec::new();
        }
        full = extend(&full, spellings.iter().map(String::as_str));
        initials = extend(&initials, spellings.iter().map(|s| &s[..1]));
    }
    full.extend(initials.into_iter().filter(|i| i.len() > 1));
    full
}

/// Every prefix followed by every continuation, up to [`MAX_PINYIN_VARIANTS`], first readings first.
fn extend<'a>(prefixes: &[String], next: impl Iterator<Item = &'a str> + Clone) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in prefixes {
        for tail in next.clone() {
            let joined = format!("{prefix}{tail}");
            if out.len() < MAX_PINYIN_VARIANTS && !out.contains(&joined) {
                out.push(joined);
            }
        }
    }
    out
}

/// A sort key that orders Chinese titles by pinyin: 北京 before 上海, then by the title itself.
pub(crate) fn sort_key(title: &str) -> String {
    let mut key = String::with_capacity(title.len() * 2);
    for c in title.chars() {
        let reading = is_han(c)
            .then(|| c.to_pinyin_multi())
            .flatten()
            .and_then(|r| r.get_opt(0));
        match reading {
            Some(reading) => {
                key.push_str(&reading.plain().replace('ü', "v"));
                key.push(' ');
            }
            None => key.push(fold_char(c)),
        }
    }
    key.push('\u{1}');
    key.push_str(title);
    key
}

/// The tantivy face of [`analyze`].
#[derive(Clone, Default)]
pub(crate) struct TextTokenizer {
    tokens: Vec<Token>,
}

impl Tokenizer for TextTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        analyze(text, |term| {
            self.tokens.push(Token {
                offset_from: term.from,
                offset_to: term.to,
                position: term.position,
                text: term.text,
                position_length: 1,
            })
        });
        VecTokenStream::new(&mut self.tokens)
    }
}

/// Indexes each Chinese word (and part) of the text as its pinyin spellings and initials.
#[derive(Clone, Default)]
pub(crate) struct PinyinTokenizer {
    tokens: Vec<Token>,
}

impl Tokenizer for PinyinTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.tokens.clear();
        analyze(text, |term| {
            for key in pinyin_keys(&term.text) {
                self.tokens.push(Token {
                    offset_from: term.from,
                    offset_to: term.to,
                    position: term.position,
                    text: key,
                    position_length: 1,
                });
            }
        });
        VecTokenStream::new(&mut self.tokens)
    }
}

pub(crate) struct VecTokenStream<'a> {
    tokens: &'a mut [Token],
    next: usize,
}

impl<'a> VecTokenStream<'a> {
    fn new(tokens: &'a mut [Token]) -> Self {
        VecTokenStream { tokens, next: 0 }
    }
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if self.next < self.tokens.len() {
            self.next += 1;
            true
        } else {
            false
        }
    }

    fn token(&self) -> &Token {
        &self.tokens[self.next.saturating_sub(1).min(self.tokens.len().saturating_sub(1))]
    }

    fn token_mut(&mut self) -> &mut Token {
        let at = self.next.saturating_sub(1).min(self.tokens.len().saturating_sub(1));
        &mut self.tokens[at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        analyze(text, |t| out.push((t.text, t.whole)));
        out
    }

    fn texts(text: &str) -> Vec<String> {
        terms(text).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn domain_words_stay_whole_and_offer_their_parts() {
        let t = texts("住房公积金缴存单位信息");
        assert!(t.contains(&"住房公积金".to_string()), "{t:?}");
        assert!(t.contains(&"公积金".to_string()), "{t:?}");
        assert!(t.contains(&"住房".to_string()), "{t:?}");
        let t = texts("四川省乡镇街道名录");
        assert!(t.contains(&"乡镇街道".to_string()), "{t:?}");
        assert!(t.contains(&"街道".to_string()), "{t:?}");
    }

    #[test]
    fn full_width_is_folded_lower_cased_and_english_stemmed() {
        assert_eq!(texts("ＣＳＶ Schools"), vec!["csv", "school"]);
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "ＡＢ公积金";
        let mut got = Vec::new();
        analyze(text, |t| got.push((t.text, text[t.from..t.to].to_string())));
        assert!(got.contains(&("ab".to_string(), "ＡＢ".to_string())), "{got:?}");
        assert!(got.contains(&("公积金".to_string(), "公积金".to_string())), "{got:?}");
    }

    #[test]
    fn punctuation_and_emoji_make_no_terms() {
        assert!(texts("《》，。!? 😀 ((").is_empty());
    }

    #[test]
    fn pinyin_spellings_and_initials() {
        let keys = pinyin_keys("公积金");
        assert!(keys.contains(&"gongjijin".to_string()), "{keys:?}");
        assert!(keys.contains(&"gjj".to_string()), "{keys:?}");
        assert!(pinyin_keys("银行").contains(&"yinhang".to_string()));
        assert!(pinyin_keys("abc").is_empty());
    }

    #[test]
    fn sort_key_orders_by_pinyin() {
        assert!(sort_key("北京") < sort_key("上海"));
        assert!(sort_key("安徽") < sort_key("北京"));
    }
}
