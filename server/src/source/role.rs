//! The database role a request runs as (`--jwt-role-claim`): its name from the token, and
//! the one statement that assumes it, `SET LOCAL ROLE "name"`, run first in the request's
//! transaction so that PostgreSQL's privileges and row-level security decide what the
//! request sees. `SET` takes no bind parameters: the name is written as a quoted
//! identifier ([`super::quote::ident`]), which no name can leave.

use super::quote;

/// Longest role name PostgreSQL keeps (NAMEDATALEN - 1). A longer name would be cut to this
/// length by the server and could name another role, so it is refused instead.
pub const MAX_ROLE_BYTES: usize = 63;

/// A role name that may be written into `SET LOCAL ROLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("the role in the token is empty")]
    Empty,
    #[error("the role in the token is {0} bytes long; PostgreSQL role names have at most {MAX_ROLE_BYTES}")]
    TooLong(usize),
    #[error("the role in the token contains a NUL character")]
    Nul,
}

impl Role {
    pub fn new(name: &str) -> Result<Role, RoleError> {
        if name.is_empty() {
            return Err(RoleError::Empty);
        }
        if name.len() > MAX_ROLE_BYTES {
            return Err(RoleError::TooLong(name.len()));
        }
        if name.contains('\0') {
            return Err(RoleError::Nul);
        }
        Ok(Role(name.to_owned()))
    }

    pub fn name(&self) -> &str {
        &self.0
    }

    /// `SET LOCAL ROLE "name"`: the role until the transaction ends.
    pub fn set_local_sql(&self) -> String {
        format!("SET LOCAL ROLE {}", quote::ident(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_quoted_and_checked() {
        assert_eq!(Role::new("web_anon").unwrap().set_local_sql(), "SET LOCAL ROLE \"web_anon\"");
        assert_eq!(
            Role::new("x\"; RESET ROLE; --").unwrap().set_local_sql(),
            "SET LOCAL ROLE \"x\"\"; RESET ROLE; --\""
        );
        assert_eq!(Role::new("none").unwrap().set_local_sql(), "SET LOCAL ROLE \"none\"");
        assert_eq!(Role::new(""), Err(RoleError::Empty));
        assert_eq!(Role::new(&"r".repeat(64)), Err(RoleError::TooLong(64)));
        assert!(Role::new(&"r".repeat(63)).is_ok());
        assert_eq!(Role::new("a\0b"), Err(RoleError::Nul));
    }
}
