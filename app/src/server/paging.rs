//! Keyset pages, shared by the pages' lists and the REST API (one cursor for both): a page is
//! the rows after the last row of the previous page in the list's order, read through an
//! index in that order, never skipped over with an offset. So a page costs the same deep in
//! a list of 10,000 as at its start, and a row added meanwhile neither repeats nor hides one.
//!
//! A cursor is the list's letter and the id of the previous page's last row (`i42`: instances
//! after instance 42). Callers treat it as opaque: they pass on the `next` a page answered.

use crate::wire::error::AppError;

/// The cursor of one list: its letter, and the name of the field that carries it (errors name
/// the field the caller sent).
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    pub letter: char,
    pub field: &'static str,
}

impl Keyset {
    /// The id the page starts after, or None for the first page. A cursor this console did not
    /// make (another list's, or edited by hand) is refused, naming the field.
    pub fn after(&self, cursor: Option<&str>) -> Result<Option<i64>, AppError> {
        let Some(cursor) = cursor.map(str::trim).filter(|c| !c.is_empty()) else {
            return Ok(None);
        };
        cursor
            .strip_prefix(self.letter)
            .and_then(|id| id.parse::<i64>().ok())
            .filter(|id| *id > 0)
            .map(Some)
            .ok_or_else(|| self.not_ours(cursor))
    }

    /// The refusal of a cursor this console did not make (also one whose row is gone).
    pub fn not_ours(&self, cursor: &str) -> AppError {
        AppError::invalid(
            self.field,
            format!(
                "This cursor was not made by this console: use the `next` of a page (got {cursor:?})."
            ),
        )
    }

    /// Ends a page read with one row more than `limit`: the rows to show and the cursor of the
    /// next page (None when this page is the last).
    pub fn page<T>(
        &self,
        mut rows: Vec<T>,
        limit: u32,
        id: impl Fn(&T) -> i64,
    ) -> (Vec<T>, Option<String>) {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more
            .then(|| rows.last().map(|row| format!("{}{}", self.letter, id(row))))
            .flatten();
        (rows, next)
    }
}

/// A page's size: `asked`, or `default` when none is asked; more than `max` or less than 1 is
/// refused, naming the field `limit`.
pub fn limit(asked: Option<u32>, default: u32, max: u32) -> Result<u32, AppError> {
    let limit = asked.unwrap_or(default);
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(AppError::invalid(
            "limit",
            format!("limit must be 1 to {max} (got {limit})."),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: Keyset = Keyset {
        letter: 'u',
        field: "cursor",
    };

    #[test]
    fn a_cursor_is_the_letter_and_a_positive_id() {
        assert_eq!(USERS.after(None).unwrap(), None);
        assert_eq!(USERS.after(Some("")).unwrap(), None);
        assert_eq!(USERS.after(Some("u17")).unwrap(), Some(17));
        for bad in ["i17", "u", "u-3", "u0", "17", "u1.5", "uabc"] {
            let error = USERS.after(Some(bad)).unwrap_err();
            assert!(format!("{error:?}").contains("cursor"), "{bad}: {error:?}");
        }
    }

    #[test]
    fn a_page_read_one_longer_than_asked_has_a_next() {
        let (rows, next) = USERS.page(vec![9, 8, 7], 2, |r| *r);
        assert_eq!((rows, next.as_deref()), (vec![9, 8], Some("u8")));
        let (rows, next) = USERS.page(vec![9, 8], 2, |r| *r);
        assert_eq!((rows, next), (vec![9, 8], None));
        let (rows, next) = USERS.page(Vec::<i64>::new(), 2, |r| *r);
        assert_eq!((rows, next), (vec![], None));
    }

    #[test]
    fn limits_outside_the_range_name_the_field() {
        assert_eq!(limit(None, 50, 100).unwrap(), 50);
        assert_eq!(limit(Some(100), 50, 100).unwrap(), 100);
        for bad in [0, 101] {
            let error = limit(Some(bad), 50, 100).unwrap_err();
            assert!(format!("{error:?}").contains("limit"), "{error:?}");
        }
    }
}
