//! 统一社会信用代码 (Unified Social Credit Code), GB 32100-2015.
//!
//! 18 characters from a 31-symbol alphabet (`0-9A-Z` without `I O S V Z`); a
//! character's value is its index in that alphabet. The 18th character is a check
//! character over the first 17 with weights `3^(i-1) mod 31`. Characters 9–17 are
//! the organisation code (GB 11714), which carries its own check digit; zhibao
//! reports that second check ([`org_code_check_ok`]) but does not reject on it,
//! since the data contract binds only the GB 32100 check character.

/// The 31 symbols of GB 32100-2015, in value order.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 (`3^(i-1) mod 31`).
pub const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Why a code is not a valid USCC.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters long.
    #[error("a USCC has 18 characters, this one has {0}")]
    Length(usize),
    /// A character outside the 31-symbol alphabet (e.g. `I`, `O`, `S`, `V`, `Z`).
    #[error("character '{ch}' at position {pos} is not allowed in a USCC (0-9 and A-Z without I O S V Z)")]
    Symbol {
        /// The offending character.
        ch: char,
        /// 1-based position.
        pos: usize,
    },
    /// The 18th character does not match the check computed from the first 17.
    #[error("check character is '{found}', GB 32100-2015 requires '{expected}'")]
    Check {
        /// The check character the code carries.
        found: char,
        /// The check character computed from positions 1–17.
        expected: char,
    },
}

/// Value of a symbol in the 31-symbol alphabet, or `None` if it is not one.
pub fn symbol_value(b: u8) -> Option<u32> {
    // A lookup table keeps this branch-free on the hot path of loading.
    const TABLE: [u8; 128] = {
        let mut t = [255u8; 128];
        let mut i = 0;
        while i < 31 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    if b < 128 && TABLE[b as usize] != 255 {
        Some(TABLE[b as usize] as u32)
    } else {
        None
    }
}

/// The check character for the first 17 characters, or the error of the first
/// character outside the alphabet.
pub fn check_char(first17: &[u8]) -> Result<u8, UsccError> {
    debug_assert_eq!(first17.len(), 17);
    let mut sum = 0u32;
    for (i, (&b, w)) in first17.iter().zip(WEIGHTS).enumerate() {
        let v = symbol_value(b).ok_or(UsccError::Symbol {
            ch: b as char,
            pos: i + 1,
        })?;
        sum += v * w;
    }
    Ok(ALPHABET[((31 - sum % 31) % 31) as usize])
}

/// Validates a code already in normal form (trimmed, upper case, half-width).
pub fn validate(code: &str) -> Result<(), UsccError> {
    let b = code.as_bytes();
    let n = code.chars().count();
    if n != 18 || b.len() != 18 {
        return Err(UsccError::Length(n));
    }
    let expected = check_char(&b[..17])?;
    if symbol_value(b[17]).is_none() {
        return Err(UsccError::Symbol {
            ch: b[17] as char,
            pos: 18,
        });
    }
    if b[17] != expected {
        return Err(UsccError::Check {
            found: b[17] as char,
            expected: expected as char,
        });
    }
    Ok(())
}

/// Completes 17 characters with their check character.
pub fn complete(first17: &str) -> Result<String, UsccError> {
    let b = first17.as_bytes();
    if b.len() != 17 {
        return Err(UsccError::Length(first17.chars().count() + 1));
    }
    let c = check_char(b)?;
    let mut s = first17.to_string();
    s.push(c as char);
    Ok(s)
}

/// GB 11714 check digit of an 8-character organisation code body: weights
/// `3 7 9 10 5 8 4 2`, check = 11 − Σ mod 11, 10 → `X`, 11 → `0`. Body characters
/// are taken through the 31-symbol table.
pub fn org_code_check(body8: &[u8]) -> Option<u8> {
    const W: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0u32;
    for (&b, w) in body8.iter().zip(W) {
        sum += symbol_value(b)? * w;
    }
    Some(match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    })
}

/// Whether positions 9–17 of a valid USCC carry a correct GB 11714 check digit.
pub fn org_code_check_ok(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 18 && org_code_check(&b[8..16]) == Some(b[16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_powers_of_three_mod_31() {
        let mut w = 1u32;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn alphabet_excludes_ambiguous_letters() {
        for c in [b'I', b'O', b'S', b'V', b'Z'] {
            assert!(symbol_value(c).is_none());
        }
        assert_eq!(symbol_value(b'Y'), Some(30));
        assert_eq!(symbol_value(b'J'), Some(18));
    }

    #[test]
    fn published_codes_validate() {
        // Codes printed on public business licences.
        for code in [
            "91110000600037341L",
            "91440300708461136T",
            "911100001000044477",
        ] {
            assert_eq!(validate(code), Ok(()), "{code}");
        }
    }

    #[test]
    fn corrupted_codes_are_rejected() {
        assert!(matches!(
            validate("91110000600037341M"),
            Err(UsccError::Check { .. })
        ));
        assert!(matches!(
            validate("91110000600037341"),
            Err(UsccError::Length(17))
        ));
        assert!(matches!(
            validate("9111000060003734IL"),
            Err(UsccError::Symbol { pos: 17, .. })
        ));
        // One changed character anywhere is always caught.
        let good = b"91440300708461136T";
        for pos in 0..17 {
            let mut bad = *good;
            bad[pos] = if bad[pos] == b'1' { b'2' } else { b'1' };
            let s = std::str::from_utf8(&bad).unwrap();
            assert!(validate(s).is_err(), "{s}");
        }
    }

    #[test]
    fn complete_adds_the_check_character() {
        assert_eq!(complete("91440300708461136").unwrap(), "91440300708461136T");
    }
}
