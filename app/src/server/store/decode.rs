//! Reading values back strictly: a value on disk that is not one the code knows is an error
//! naming the table, the row and the value (sqlx's derived decoding names none of them),
//! never a default that would quietly change what the console does.

/// The error for `value` in `column` of `table`'s row `id`, which is not `expected`.
pub fn bad_value(table: &str, id: i64, column: &str, value: &str, expected: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("{table} row {id}: {column} {value:?} is not {expected}").into())
}

/// `value` parsed by `parse`, or [`bad_value`].
pub fn parsed<T>(
    table: &str,
    id: i64,
    column: &str,
    value: &str,
    expected: &str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    parse(value).ok_or_else(|| bad_value(table, id, column, value, expected))
}

/// A `role` column (users and service accounts).
pub fn role(
    table: &str,
    id: i64,
    value: &str,
) -> Result<crate::domain::account::Role, sqlx::Error> {
    parsed(
        table,
        id,
        "role",
        value,
        "viewer, operator or admin",
        crate::domain::account::Role::parse,
    )
}

/// A JSON column read as `T`.
pub fn json<T: serde::de::DeserializeOwned>(
    table: &str,
    id: i64,
    column: &str,
    value: &str,
) -> Result<T, sqlx::Error> {
    serde_json::from_str(value).map_err(|e| {
        bad_value(
            table,
            id,
            column,
            value,
            &format!("valid JSON of its shape ({e})"),
        )
    })
}

/// A count or size stored as an integer that must fit a `u32`.
pub fn count(table: &str, id: i64, column: &str, value: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(value).map_err(|_| {
        bad_value(
            table,
            id,
            column,
            &value.to_string(),
            "a count from 0 to 4294967295",
        )
    })
}

/// One of the strings `all` lists, as `T`.
pub fn one_of<T: Copy>(
    table: &str,
    id: i64,
    column: &str,
    value: &str,
    all: &[T],
    as_str: impl Fn(T) -> &'static str,
) -> Result<T, sqlx::Error> {
    all.iter()
        .copied()
        .find(|t| as_str(*t) == value)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|t| as_str(*t)).collect();
            bad_value(
                table,
                id,
                column,
                value,
                &format!("one of {}", names.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::instance::State;

    #[test]
    fn an_unknown_value_names_the_table_row_column_and_value() {
        let error = one_of(
            "instances",
            7,
            "state",
            "runing",
            &State::ALL,
            State::as_str,
        )
        .unwrap_err()
        .to_string();
        assert!(
            error.contains("instances row 7: state \"runing\" is not one of creating, running"),
            "{error}"
        );
        assert_eq!(
            one_of(
                "instances",
                7,
                "state",
                "running",
                &State::ALL,
                State::as_str
            )
            .unwrap(),
            State::Running
        );
        assert!(count("instances", 1, "size_aku", -1).is_err());
        assert!(json::<Vec<String>>("instances", 1, "zones", "not json").is_err());
    }
}
