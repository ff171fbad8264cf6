//! The placeholders of statements that bind many values (a multi-row `VALUES`, an `IN` list),
//! written the way each backend binds fastest.
//!
//! A placeholder is `?` on SQLite and `$1`, `$2`, … on PostgreSQL. SQLite binds `?` by
//! position, whereas sqlx resolves each numbered `$n` there by scanning the statement's
//! parameter names, so binding time grows with the square of the count (5 % of the indexer's
//! backfill at a thousand parameters a statement). The placeholders made here must therefore be
//! the statement's only parameters, bound in order.

use crate::Backend;

/// `rows` tuples of `width` placeholders, each followed by `extra` (SQL text such as `, '0'`
/// for a constant column): `(p, p<extra>), (p, p<extra>)`.
pub fn values(backend: Backend, rows: usize, width: usize, extra: &str) -> String {
    let mut s = String::with_capacity(rows * (width * 7 + extra.len() + 4));
    for i in 0..rows {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('(');
        push_run(&mut s, backend, i * width, width);
        s.push_str(extra);
        s.push(')');
    }
    s
}

/// `n` placeholders separated by commas: `p, p, p` (an `IN` list).
pub fn list(backend: Backend, n: usize) -> String {
    let mut s = String::with_capacity(n * 7);
    push_run(&mut s, backend, 0, n);
    s
}

/// Appends `n` placeholders, the first being parameter number `before + 1`.
fn push_run(s: &mut String, backend: Backend, before: usize, n: usize) {
    for j in 0..n {
        if j > 0 {
            s.push_str(", ");
        }
        match backend {
            Backend::Sqlite => s.push('?'),
            Backend::Postgres => {
                s.push('$');
                s.push_str(&(before + j + 1).to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_every_parameter() {
        assert_eq!(
            values(Backend::Postgres, 2, 2, ", '0'"),
            "($1, $2, '0'), ($3, $4, '0')"
        );
        assert_eq!(values(Backend::Postgres, 1, 1, ""), "($1)");
        assert_eq!(list(Backend::Postgres, 3), "$1, $2, $3");
    }

    #[test]
    fn sqlite_binds_by_position() {
        assert_eq!(values(Backend::Sqlite, 2, 3, ""), "(?, ?, ?), (?, ?, ?)");
        assert_eq!(values(Backend::Sqlite, 1, 1, ", 'x'"), "(?, 'x')");
        assert_eq!(list(Backend::Sqlite, 3), "?, ?, ?");
    }

    #[test]
    fn nothing_to_bind_no_placeholders() {
        assert_eq!(values(Backend::Sqlite, 0, 4, ""), "");
        assert_eq!(list(Backend::Postgres, 0), "");
    }
}
