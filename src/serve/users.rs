//! Users of `zhibao serve`: a TOML file of names, roles and argon2 hashes of their
//! tokens (never a token in clear). `zhibao user add` writes it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What a user may see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Role {
    /// Every county.
    City,
    /// One county (6-digit code).
    County(String),
}

/// One user.
#[derive(Clone, Debug)]
pub struct User {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    hash: String,
}

impl User {
    /// Whether the user may see county `code`.
    pub fn sees(&self, code: &str) -> bool {
        match &self.role {
            Role::City => true,
            Role::County(c) => c == code,
        }
    }

    /// The county a county user is limited to.
    pub fn county(&self) -> Option<&str> {
        match &self.role {
            Role::City => None,
            Role::County(c) => Some(c),
        }
    }
}

#[derive(Serialize, Deserialize, Default)]
struct File {
    #[serde(default)]
    user: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    name: String,
    role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    county_code: Option<String>,
    token_hash: String,
}

fn valid_county(c: &str) -> bool {
    c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())
}

fn read(path: &Path) -> Result<File> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(File::default()),
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    toml::from_str(&text).map_err(|e| Error::Usage(format!("users file {}: {e}", path.display())))
}

/// Adds a user to the file (created when absent) and returns its new token.
pub fn add(path: &Path, name: &str, role: &str, county: Option<&str>) -> Result<String> {
    let bad = |m: String| Error::Usage(format!("users file {}: {m}", path.display()));
    let mut file = read(path)?;
    if name.trim().is_empty() {
        return Err(bad("a user needs a name".into()));
    }
    if file.user.iter().any(|u| u.name == name) {
        return Err(bad(format!("user '{name}' already exists")));
    }
    match (role, county) {
        ("city", None) => {}
        ("city", Some(_)) => return Err(bad("a city user has no --county".into())),
        ("county", Some(c)) if valid_county(c) => {}
        ("county", Some(c)) => {
            return Err(bad(format!(
                "--county '{c}' is not a 6-digit administrative code"
            )))
        }
        ("county", None) => return Err(bad("a county user needs --county CODE".into())),
        (r, _) => return Err(bad(format!("role '{r}': expected city or county"))),
    }
    let bytes: [u8; 24] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(token.as_bytes(), &salt)
        .map_err(|e| bad(format!("cannot hash the token: {e}")))?
        .to_string();
    file.user.push(Entry {
        name: name.to_string(),
        role: role.to_string(),
        county_code: county.map(str::to_string),
        token_hash: hash,
    });
    let text = toml::to_string(&file).map_err(|e| bad(e.to_string()))?;
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    std::fs::rename(&tmp, path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(token)
}

/// The users of a file, with a cache of tokens already verified (argon2 is slow on
/// purpose; a token is hashed once per process).
pub struct Users {
    users: Vec<User>,
    known: Mutex<HashMap<String, usize>>,
}

impl Users {
    /// Reads and checks a users file.
    pub fn load(path: &Path) -> Result<Users> {
        if !path.is_file() {
            return Err(Error::Usage(format!(
                "users file {} does not exist; create it with `zhibao user add NAME --users {} --role city`",
                path.display(),
                path.display()
            )));
        }
        let bad = |m: String| Error::Usage(format!("users file {}: {m}", path.display()));
        let file = read(path)?;
        if file.user.is_empty() {
            return Err(bad("no [[user]] entries".into()));
        }
        let mut users = Vec::new();
        for e in file.user {
            let role = match (e.role.as_str(), e.county_code) {
                ("city", _) => Role::City,
                ("county", Some(c)) if valid_county(&c) => Role::County(c),
                ("county", c) => {
                    return Err(bad(format!(
                        "user '{}': a county user needs a 6-digit county_code (got {c:?})",
                        e.name
                    )))
                }
                (r, _) => {
                    return Err(bad(format!(
                        "user '{}': role '{r}', expected city or county",
                        e.name
                    )))
                }
            };
            if PasswordHash::new(&e.token_hash).is_err() {
                return Err(bad(format!(
                    "user '{}': token_hash is not an argon2 PHC string",
                    e.name
                )));
            }
            users.push(User {
                name: e.name,
                role,
                hash: e.token_hash,
            });
        }
        Ok(Users {
            users,
            known: Mutex::new(HashMap::new()),
        })
    }

    /// The user a token belongs to.
    pub fn authenticate(&self, token: &str) -> Option<User> {
        if token.is_empty() || token.len() > 200 {
            return None;
        }
        if let Some(&i) = self.known.lock().ok()?.get(token) {
            return Some(self.users[i].clone());
        }
        let argon = Argon2::default();
        for (i, u) in self.users.iter().enumerate() {
            let Ok(h) = PasswordHash::new(&u.hash) else {
                continue;
            };
            if argon.verify_password(token.as_bytes(), &h).is_ok() {
                self.known.lock().ok()?.insert(token.to_string(), i);
                return Some(u.clone());
            }
        }
        None
    }
}
