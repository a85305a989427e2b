//! 统一社会信用代码 — the unified social credit identifier of GB 32100-2015.
//!
//! 18 characters from a 31-symbol alphabet (digits and upper-case letters without I, O, Z, S, V):
//! registration authority (1), organisation category (1), administrative division code (6
//! digits), organisation code (9), check character (1). The check character is
//! `31 - (Σ value(cᵢ)·wᵢ mod 31)` with the weights below, where 31 maps to 0.

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Why a credit code was refused; each maps to a message telling the user what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreditCodeError {
    Length,
    Character,
    Region,
    CheckDigit,
}

impl CreditCodeError {
    pub fn code(self) -> &'static str {
        match self {
            CreditCodeError::Length => "credit_code_length",
            CreditCodeError::Character => "credit_code_character",
            CreditCodeError::Region => "credit_code_region",
            CreditCodeError::CheckDigit => "credit_code_check",
        }
    }
}

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

/// The check character for the first 17 characters, or `None` if one is outside the alphabet.
pub fn check_char(body: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in body.chars().zip(WEIGHTS) {
        sum += value(c)? * w;
    }
    let v = (31 - sum % 31) % 31;
    ALPHABET.chars().nth(v as usize)
}

/// Normalises (trim, upper-case) and validates a credit code, returning the normal form.
pub fn validate(input: &str) -> Result<String, CreditCodeError> {
    let code = input.trim().to_ascii_uppercase();
    if code.chars().count() != 18 {
        return Err(CreditCodeError::Length);
    }
    if !code.chars().all(|c| value(c).is_some()) {
        return Err(CreditCodeError::Character);
    }
    if !code[2..8].bytes().all(|b| b.is_ascii_digit()) {
        return Err(CreditCodeError::Region);
    }
    if check_char(&code[..17]) != code.chars().nth(17) {
        return Err(CreditCodeError::CheckDigit);
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Codes in the format printed on real business licences, with their published check chars.
    // The first is the example given in GB 32100-2015 itself.
    const VALID: [&str; 4] = [
        "91350100M000100Y43",
        "91110108551385082Q",
        "91440300192173749Y",
        "11510000008693034D",
    ];

    #[test]
    fn accepts_real_format_codes() {
        for c in VALID {
            assert_eq!(validate(c), Ok(c.to_string()), "{c}");
        }
        assert_eq!(validate(" 91350100m000100y43 ").as_deref(), Ok("91350100M000100Y43"));
    }

    #[test]
    fn refuses_any_single_substitution_of_the_check_char() {
        for c in VALID {
            for alt in ALPHABET.chars().filter(|&a| Some(a) != c.chars().nth(17)) {
                let bad = format!("{}{}", &c[..17], alt);
                assert_eq!(validate(&bad), Err(CreditCodeError::CheckDigit), "{bad}");
            }
        }
    }

    #[test]
    fn refuses_changed_body() {
        // Changing any body character changes the weighted sum, so the check char no longer fits.
        let c = VALID[0];
        for i in 8..17 {
            let mut chars: Vec<char> = c.chars().collect();
            chars[i] = if chars[i] == '1' { '2' } else { '1' };
            let bad: String = chars.into_iter().collect();
            assert_eq!(validate(&bad), Err(CreditCodeError::CheckDigit), "{bad}");
        }
    }

    #[test]
    fn names_the_problem() {
        assert_eq!(validate("9135010"), Err(CreditCodeError::Length));
        // A commonly mistyped code: right shape, wrong check character.
        assert_eq!(validate("11510000008693034W"), Err(CreditCodeError::CheckDigit));
        assert_eq!(validate("91350100M000100I43"), Err(CreditCodeError::Character));
        assert_eq!(validate("913501O0M000100Y43"), Err(CreditCodeError::Character));
        assert_eq!(validate("91A50100M000100Y43"), Err(CreditCodeError::Region));
        assert_eq!(
            validate("统一社会信用代码统一社会信用代码统一"),
            Err(CreditCodeError::Character)
        );
    }
}
