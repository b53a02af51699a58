//! Statement parameters: the few value kinds Herald stores, convertible from its types.

/// A statement parameter: the value kinds Herald stores.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    Bytes(Option<Vec<u8>>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}
impl From<u32> for Param {
    fn from(v: u32) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}
impl From<u16> for Param {
    fn from(v: u16) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}
impl From<u8> for Param {
    fn from(v: u8) -> Self {
        Param::Int(Some(i64::from(v)))
    }
}
impl From<usize> for Param {
    fn from(v: usize) -> Self {
        Param::Int(Some(i64::try_from(v).unwrap_or(i64::MAX)))
    }
}
impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}
impl From<bool> for Param {
    fn from(v: bool) -> Self {
        Param::Bool(v)
    }
}
impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_owned()))
    }
}
impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}
impl From<&String> for Param {
    fn from(v: &String) -> Self {
        Param::Text(Some(v.clone()))
    }
}
impl From<Option<&str>> for Param {
    fn from(v: Option<&str>) -> Self {
        Param::Text(v.map(str::to_owned))
    }
}
impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}
impl From<&Option<String>> for Param {
    fn from(v: &Option<String>) -> Self {
        Param::Text(v.clone())
    }
}
impl From<Option<&[u8]>> for Param {
    fn from(v: Option<&[u8]>) -> Self {
        Param::Bytes(v.map(<[u8]>::to_vec))
    }
}

/// `params![a, b, c]`: a `Vec<Param>` from values convertible into [`Param`].
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        vec![$($crate::db::Param::from($value)),*]
    };
}
pub(crate) use params;

/// `?, ?, ?` for an `IN (…)` list of `n` values.
pub(crate) fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}
