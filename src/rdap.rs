//! RDAP domain responses (RFC 9083) → [`crate::Registration`].
//!
//! The parser reads the body into a [`serde_json::Value`] and picks the
//! fields it needs, skipping any field whose type is wrong instead of failing
//! the whole response. Work on hostile input is bounded: the body size is
//! capped ([`MAX_BODY`]), serde_json refuses nesting deeper than 128, nested
//! entities are walked at most [`MAX_DEPTH`] levels deep and [`MAX_ENTITIES`]
//! in all, only the first [`MAX_ITEMS`] members of any array are looked at,
//! and the strings kept are length-capped.
//!
//! No I/O happens here: the caller fetches, and passes the server and the
//! fetch time in.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Timelike, Utc};
use serde_json::{Map, Value};

use crate::epp;
use crate::registration::{Registration, Shared, Source};

/// Largest body accepted, in bytes.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// How deep nested `entities` are searched (1 = only the domain's own entities).
pub const MAX_DEPTH: usize = 8;
/// How many members of any one array are looked at.
pub const MAX_ITEMS: usize = 64;
/// How many entities are looked at in all, at every depth.
pub const MAX_ENTITIES: usize = 256;
/// Longest registrar name kept, in characters (longer names are cut).
pub const MAX_NAME_CHARS: usize = 256;
/// Longest host name kept, in bytes (longer names are dropped).
pub const MAX_HOST_LEN: usize = 253;
/// Longest non-standard status string kept, in characters (longer ones are cut).
pub const MAX_STATUS_CHARS: usize = 128;
/// Longest referral URL kept, in bytes (longer ones are dropped).
pub const MAX_URL_LEN: usize = 2048;
/// How much of one remark line is searched for a phrase, in bytes.
const MAX_SCAN: usize = 4096;

/// Why an RDAP response could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RdapError {
    /// The body is not JSON (or is nested deeper than serde_json allows).
    #[error("not JSON: {0}")]
    Json(String),
    /// The body is larger than [`MAX_BODY`].
    #[error("body of {size} bytes is larger than the {max} bytes allowed")]
    TooLarge {
        /// Size of the body.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The JSON is not an object.
    #[error("not a JSON object")]
    NotObject,
    /// The object is an RDAP error response (RFC 9083 section 6).
    #[error("RDAP error response {code:?}: {title}")]
    ErrorResponse {
        /// `errorCode`, when it is a number (or a numeric string).
        code: Option<u16>,
        /// `title`, possibly empty, length-capped.
        title: String,
    },
    /// `objectClassName` names something other than a domain.
    #[error("not a domain object (objectClassName {0:?})")]
    NotDomain(String),
    /// Neither `ldhName` nor `unicodeName` is present.
    #[error("domain object without ldhName or unicodeName")]
    MissingName,
    /// `ldhName` / `unicodeName` is present but is not a usable domain name.
    #[error("unusable domain name {0:?}")]
    InvalidName(String),
}

/// A parsed domain response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The registration facts.
    pub registration: Registration,
    /// The registrar's RDAP URL for this domain (a `related` link), as given,
    /// when the response points elsewhere.
    pub referral: Option<String>,
}

/// Parses an RDAP domain response (RFC 9083 section 5.3).
///
/// `server` and `fetched` are copied into the result. Fields of the wrong
/// type are skipped; only an unreadable body, a non-domain object, an error
/// object or a missing domain name are errors.
pub fn parse_domain(
    body: &[u8],
    server: Option<&str>,
    fetched: Option<DateTime<Utc>>,
) -> Result<Parsed, RdapError> {
    let obj = read_object(body)?;

    if obj.contains_key("errorCode") && !obj.contains_key("ldhName") {
        return Err(RdapError::ErrorResponse {
            code: obj.get("errorCode").and_then(as_code),
            title: obj
                .get("title")
                .and_then(Value::as_str)
                .map(|t| cut_chars(t.trim(), MAX_NAME_CHARS))
                .unwrap_or_default(),
        });
    }
    if let Some(class) = obj.get("objectClassName").and_then(Value::as_str)
        && !class.trim().eq_ignore_ascii_case("domain")
    {
        return Err(RdapError::NotDomain(cut_chars(class, MAX_NAME_CHARS)));
    }

    let domain = domain_name(&obj)?;
    let mut reg = Registration::new(domain, Source::Rdap);
    reg.server = server.map(Shared::new);
    reg.fetched = fetched;

    read_events(&obj, &mut reg);
    reg.status = read_status(obj.get("status")).into();
    reg.nameservers = read_nameservers(obj.get("nameservers"));

    let entities = walk_entities(&obj);
    if let Some(registrar) = entities
        .iter()
        .find(|e| has_role(e.map, "registrar"))
        .map(|e| e.map)
    {
        reg.registrar = vcard_name(registrar).map(Shared::from);
        reg.registrar_iana_id = iana_id(registrar);
    }
    reg.privacy = privacy(&obj, &entities);

    Ok(Parsed {
        registration: reg,
        referral: referral(&obj),
    })
}

/// Combines the registry's record of a domain with the registrar's.
///
/// The registry wins on dates and status when it has them; the registrar
/// fills whatever the registry lacks (a `None` field, an empty status or
/// nameserver list). The registrar's name and IANA id come from the registry
/// when present. `privacy` is true when either says so. `domain`,
/// `registered`, `source`, `server` and `fetched` are the registry's.
pub fn merge(registry: &Registration, registrar: &Registration) -> Registration {
    let mut out = registry.clone();
    out.created = registry.created.or(registrar.created);
    out.expires = registry.expires.or(registrar.expires);
    out.updated = registry.updated.or(registrar.updated);
    out.transferred = registry.transferred.or(registrar.transferred);
    if out.status.is_empty() {
        out.status.clone_from(&registrar.status);
    }
    if out.nameservers.is_empty() {
        out.nameservers.clone_from(&registrar.nameservers);
    }
    if out.registrar.is_none() {
        out.registrar.clone_from(&registrar.registrar);
    }
    out.registrar_iana_id = registry.registrar_iana_id.or(registrar.registrar_iana_id);
    out.privacy = registry.privacy || registrar.privacy;
    out
}

/// Parses an RDAP event date.
///
/// Accepts RFC 3339 (`Z`, fractional seconds, `+03:00`), offsets without a
/// colon (`+0000`), no zone at all (taken as UTC), a space instead of `T`,
/// and a plain date `YYYY-MM-DD` (midnight UTC). Anything else is `None`.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    parse_date_with(s, &mut LastSecond::default())
}

/// [`parse_date`], taking the whole second from `last` when `s` falls in
/// the one it holds, and keeping `s`'s there for the next call. Log events
/// come in time order, many to a second, so most events' times then cost
/// only reading the fraction and the zone.
pub fn parse_date_with(s: &str, last: &mut LastSecond) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 || !s.is_ascii() {
        return None;
    }
    fixed_width(s, true, last).or_else(|| parse_date_general(s))
}

/// [`parse_date`] without the fast path: chrono's parsers over every form
/// (`s` already trimmed, checked ASCII and at most 64 bytes).
fn parse_date_general(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The common UTC form `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (1 to 9 fraction
/// digits, seconds below 60), read without chrono's general parser; None for
/// anything else, which the caller then hands to chrono. On the strings it
/// accepts it gives what `DateTime::parse_from_rfc3339` gives.
pub fn utc_fast(s: &str) -> Option<DateTime<Utc>> {
    fixed_width(s, false, &mut LastSecond::default())
}

/// The last whole second [`parse_date_with`] read in a fixed-width form:
/// its text `YYYY-MM-DD?HH:MM:SS` and the local time that text gives
/// (`None` when no such date or time exists).
#[derive(Debug, Clone, Default)]
pub struct LastSecond {
    head: [u8; 19],
    time: Option<NaiveDateTime>,
}

/// The fixed-width forms, read without chrono's general parsers:
/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` (1 to 9 fraction digits, seconds
/// below 60) and, when `wide`, also with a space for the `T`, and with an
/// offset `±HH:MM` or `±HHMM` (hours below 24, minutes below 60) or no zone
/// at all (UTC) for the `Z`: the event times of Suricata
/// (`2018-07-05T15:01:09.820360-0400`), Sysmon (`2019-07-18 03:34:01.239`)
/// and most JSON logs. None for anything else. On what it accepts it gives
/// what [`parse_date_general`] gives (about 3,000 instructions fewer on a
/// Suricata time). The whole second is read from `last` when its text is
/// the same, and kept there otherwise.
fn fixed_width(s: &str, wide: bool, last: &mut LastSecond) -> Option<DateTime<Utc>> {
    let (head, rest) = s.as_bytes().split_first_chunk::<19>()?;
    match head.get(10) {
        Some(b'T') => {}
        Some(b' ') if wide => {}
        _ => return None,
    }
    if *head != last.head {
        last.head = *head;
        last.time = whole_second(head);
    }
    let whole = last.time?;
    let (nanos, zone) = match rest {
        [b'.', tail @ ..] => {
            // Nanoseconds per unit of the last digit, by the digits' count.
            const SCALE: [u32; 10] = [
                0,
                100_000_000,
                10_000_000,
                1_000_000,
                100_000,
                10_000,
                1_000,
                100,
                10,
                1,
            ];
            let mut n = 0u32;
            let mut len = 0;
            for &d in tail.iter().take(10) {
                let v = d.wrapping_sub(b'0');
                if v >= 10 {
                    break;
                }
                if len == 9 {
                    len = 10;
                    break;
                }
                n = n * 10 + u32::from(v);
                len += 1;
            }
            // 1 to 9 digits: none, or a tenth, gives None.
            let scale = SCALE.get(len).copied().filter(|&s| s > 0)?;
            (n * scale, tail.get(len..)?)
        }
        _ => (0, rest),
    };
    let offset = match *zone {
        [b'Z'] => 0,
        [] if wide => 0,
        [sign @ (b'+' | b'-'), h0, h1, b':', m0, m1] | [sign @ (b'+' | b'-'), h0, h1, m0, m1]
            if wide =>
        {
            let (hours, minutes) = (digits(&[h0, h1])?, digits(&[m0, m1])?);
            if hours >= 24 || minutes >= 60 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    // Below 10^9 nanoseconds: always within range.
    let local = whole.with_nanosecond(nanos)?;
    if offset == 0 {
        return Some(local.and_utc());
    }
    local
        .checked_sub_signed(chrono::TimeDelta::seconds(offset))
        .map(|t| t.and_utc())
}

/// The local time `YYYY-MM-DD?HH:MM:SS` spells (any separator byte), to the
/// second; None when a byte that should be a digit or punctuation is not, or
/// when no such date or time exists (seconds below 60).
fn whole_second(head: &[u8; 19]) -> Option<NaiveDateTime> {
    let [
        y0,
        y1,
        y2,
        y3,
        b'-',
        m0,
        m1,
        b'-',
        d0,
        d1,
        _,
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
    ] = *head
    else {
        return None;
    };
    let year = digits(&[y0, y1, y2, y3])?;
    let (month, day) = (digits(&[m0, m1])?, digits(&[d0, d1])?);
    let (hour, minute, second) = (digits(&[h0, h1])?, digits(&[i0, i1])?, digits(&[s0, s1])?);
    if second >= 60 {
        return None;
    }
    // `year < 10_000`: the cast cannot wrap.
    NaiveDate::from_ymd_opt(year as i32, month, day)?.and_hms_opt(hour, minute, second)
}

/// The number that ASCII digits spell (at most 9 of them); None when a byte
/// is not a digit.
fn digits(ds: &[u8]) -> Option<u32> {
    ds.iter().try_fold(0u32, |n, &d| {
        let v = d.wrapping_sub(b'0');
        (v < 10).then(|| n * 10 + u32::from(v))
    })
}

/// `deserialize_with` for the optional times of a [`Registration`]: what
/// chrono's own `Deserialize` reads (the same errors too), with
/// [`utc_fast`] first.
pub(crate) fn de_time<'de, D>(d: D) -> Result<Option<DateTime<Utc>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de;
    use std::fmt;

    struct Time;
    impl de::Visitor<'_> for Time {
        type Value = DateTime<Utc>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            // chrono's wording, so that errors read the same.
            f.write_str("an RFC 3339 formatted date and time string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime<Utc>, E> {
            match utc_fast(v) {
                Some(t) => Ok(t),
                None => v
                    .parse::<DateTime<chrono::FixedOffset>>()
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(E::custom),
            }
        }
    }
    struct Maybe;
    impl<'de> de::Visitor<'de> for Maybe {
        type Value = Option<DateTime<Utc>>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("option")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_str(Time).map(Some)
        }
    }
    d.deserialize_option(Maybe)
}

/// True when `body` is an RDAP error object (RFC 9083 section 6) with
/// `errorCode` 404. An empty body is not (the HTTP status tells that case).
pub fn is_not_found(body: &[u8]) -> bool {
    read_object(body)
        .ok()
        .and_then(|o| o.get("errorCode").and_then(as_code))
        == Some(404)
}

/// True when `body` says the client is being rate limited now: an error
/// object with `errorCode` 429, a top-level notice/remark titled e.g. "Quota
/// exceeded", "Too Many Requests", "Rate limited", or a description saying
/// e.g. "quota exceeded", "you have exceeded", "rate limit exceeded".
///
/// Terms-of-service wording in a description ("access ... is rate limited",
/// "if too many queries are received ...") does not count. The body need not
/// lack a domain: some servers attach such a notice to a truncated answer.
pub fn is_quota_exceeded(body: &[u8]) -> bool {
    let Ok(obj) = read_object(body) else {
        return false;
    };
    if obj.get("errorCode").and_then(as_code) == Some(429) {
        return true;
    }
    ["notices", "remarks"].iter().any(|key| {
        objects(obj.get(*key)).any(|note| {
            note.get("title")
                .and_then(Value::as_str)
                .is_some_and(|t| says(t, QUOTA_TITLES))
                || strings(note.get("description")).any(|d| says(d, QUOTA_DESCRIPTIONS))
        })
    })
}

// ---------------------------------------------------------------------------
// Reading helpers.

fn read_object(body: &[u8]) -> Result<Map<String, Value>, RdapError> {
    if body.len() > MAX_BODY {
        return Err(RdapError::TooLarge {
            size: body.len(),
            max: MAX_BODY,
        });
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(RdapError::NotObject),
        Err(e) => Err(RdapError::Json(e.to_string())),
    }
}

/// An `errorCode` as a number, accepting `404` and `"404"`.
fn as_code(v: &Value) -> Option<u16> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The objects of an array field (at most [`MAX_ITEMS`]); nothing when the
/// field is missing or not an array.
fn objects(v: Option<&Value>) -> impl Iterator<Item = &Map<String, Value>> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(MAX_ITEMS)
        .filter_map(Value::as_object)
}

/// The strings of a field that should be an array of strings (at most
/// [`MAX_ITEMS`]); a lone string is taken as a one-element array.
fn strings(v: Option<&Value>) -> impl Iterator<Item = &str> {
    let (one, many) = match v {
        Some(Value::String(s)) => (Some(s.as_str()), None),
        Some(Value::Array(a)) => (None, Some(a)),
        _ => (None, None),
    };
    one.into_iter().chain(
        many.into_iter()
            .flatten()
            .take(MAX_ITEMS)
            .filter_map(Value::as_str),
    )
}

/// The first `max` characters of `s`.
fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s).to_owned(),
        None => s.to_owned(),
    }
}

/// At most the first `max` bytes of `s`, cut at a character boundary.
fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut i = max;
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    s.get(..i).unwrap_or("")
}

/// A host or domain name in lower-case A-label form without a trailing dot,
/// or `None` when `s` is not a plausible name.
fn normalize_host(s: &str) -> Option<String> {
    let t = s.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    if t.is_empty() || t.len() > 4 * MAX_HOST_LEN {
        return None;
    }
    let ascii = if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(t).ok()?
    };
    let ok_bytes = ascii
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if ascii.is_empty()
        || ascii.len() > MAX_HOST_LEN
        || !ok_bytes
        || ascii.starts_with('.')
        || ascii.ends_with('.')
        || ascii.contains("..")
    {
        return None;
    }
    Some(ascii)
}

fn domain_name(obj: &Map<String, Value>) -> Result<String, RdapError> {
    let ldh = obj.get("ldhName").and_then(Value::as_str);
    let unicode = obj.get("unicodeName").and_then(Value::as_str);
    if ldh.is_none() && unicode.is_none() {
        return Err(RdapError::MissingName);
    }
    ldh.and_then(normalize_host)
        .or_else(|| unicode.and_then(normalize_host))
        .ok_or_else(|| {
            RdapError::InvalidName(cut_chars(ldh.or(unicode).unwrap_or(""), MAX_NAME_CHARS))
        })
}

/// Lower-case, with runs of spaces, underscores and hyphens made one space.
fn normalize_words(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

fn read_events(obj: &Map<String, Value>, reg: &mut Registration) {
    // "last changed" is the standard action; the non-standard "last update"
    // and "last updated" are used only when it is absent.
    let mut last_changed = None;
    let mut last_update = None;
    for ev in objects(obj.get("events")) {
        let Some(action) = ev.get("eventAction").and_then(Value::as_str) else {
            continue;
        };
        let Some(date) = ev
            .get("eventDate")
            .and_then(Value::as_str)
            .and_then(parse_date)
        else {
            continue;
        };
        match normalize_words(head(action, 64)).as_str() {
            "registration" => {
                reg.created.get_or_insert(date);
            }
            "expiration" => {
                reg.expires.get_or_insert(date);
            }
            "last changed" => {
                last_changed.get_or_insert(date);
            }
            "last update" | "last updated" => {
                last_update.get_or_insert(date);
            }
            "transfer" => {
                reg.transferred = Some(reg.transferred.map_or(date, |t| t.max(date)));
            }
            // Includes "last update of rdap database", which dates the
            // answer, not the registration.
            _ => {}
        }
    }
    reg.updated = last_changed.or(last_update);
}

fn read_status(v: Option<&Value>) -> Vec<Shared> {
    let mut out: Vec<Shared> = Vec::new();
    for s in strings(v) {
        let epp = epp::rdap_to_epp(head(s, 4 * MAX_STATUS_CHARS));
        if epp.is_empty() {
            continue;
        }
        let epp = cut_chars(&epp, MAX_STATUS_CHARS);
        if !out.iter().any(|s| *s == epp) {
            out.push(Shared::new(&epp));
        }
    }
    out
}

fn read_nameservers(v: Option<&Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in objects(v) {
        let name = ns
            .get("ldhName")
            .and_then(Value::as_str)
            .and_then(normalize_host)
            .or_else(|| {
                ns.get("unicodeName")
                    .and_then(Value::as_str)
                    .and_then(normalize_host)
            });
        if let Some(name) = name
            && !out.contains(&name)
        {
            out.push(name);
        }
    }
    out
}

/// An entity found under the domain object.
struct Found<'a> {
    map: &'a Map<String, Value>,
    /// True when a registrar entity encloses this one (its contacts are the
    /// registrar's, not the registrant's).
    under_registrar: bool,
}

/// The domain's entities and their nested entities, breadth first (so the
/// domain's own entities come first), at most [`MAX_DEPTH`] levels and
/// [`MAX_ENTITIES`] in all.
fn walk_entities(root: &Map<String, Value>) -> Vec<Found<'_>> {
    let mut out: Vec<Found<'_>> = Vec::new();
    let mut level: Vec<(&Map<String, Value>, bool)> = vec![(root, false)];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for (parent, under_registrar) in level {
            for e in objects(parent.get("entities")) {
                if out.len() >= MAX_ENTITIES {
                    return out;
                }
                out.push(Found {
                    map: e,
                    under_registrar,
                });
                next.push((e, under_registrar || has_role(e, "registrar")));
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    out
}

fn has_role(entity: &Map<String, Value>, role: &str) -> bool {
    strings(entity.get("roles")).any(|r| r.trim().eq_ignore_ascii_case(role))
}

/// The roles whose entity describes the domain holder or its contacts.
const CONTACT_ROLES: &[&str] = &["registrant", "administrative", "technical", "billing"];

fn is_contact(entity: &Map<String, Value>) -> bool {
    CONTACT_ROLES.iter().any(|r| has_role(entity, r))
}

/// The vCard properties (`[name, params, type, value]`) of an entity's jCard.
fn vcard_props(entity: &Map<String, Value>) -> impl Iterator<Item = &Vec<Value>> {
    let card = entity.get("vcardArray").and_then(Value::as_array);
    let props = card.and_then(|c| match (c.first(), c.get(1)) {
        (Some(Value::String(tag)), Some(Value::Array(props))) if tag == "vcard" => Some(props),
        _ => None,
    });
    props
        .into_iter()
        .flatten()
        .take(MAX_ITEMS)
        .filter_map(Value::as_array)
}

/// The text value of the first non-empty vCard property `name` (`org` may be
/// a structured value; its first component is used).
fn vcard_text<'a>(entity: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    vcard_props(entity)
        .filter(|p| {
            p.first()
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .filter_map(|p| match p.get(3) {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(Value::Array(parts)) => parts.first().and_then(Value::as_str),
            _ => None,
        })
        .map(str::trim)
        .find(|s| !s.is_empty())
}

/// The entity's name: vCard `fn`, else `org`.
fn vcard_name(entity: &Map<String, Value>) -> Option<String> {
    vcard_text(entity, "fn")
        .or_else(|| vcard_text(entity, "org"))
        .map(|s| cut_chars(s, MAX_NAME_CHARS))
}

/// The entity's IANA Registrar ID (`publicIds` type "IANA Registrar ID").
fn iana_id(entity: &Map<String, Value>) -> Option<u32> {
    objects(entity.get("publicIds"))
        .filter(|p| {
            p.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| normalize_words(head(t, 64)) == "iana registrar id")
        })
        .find_map(|p| match p.get("identifier") {
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
            _ => None,
        })
}

/// True when some notice/remark's title or description contains one of
/// `phrases` (lower-case), ignoring case.
fn notes_say(v: Option<&Value>, phrases: &[&str]) -> bool {
    objects(v).any(|note| {
        note.get("title")
            .and_then(Value::as_str)
            .into_iter()
            .chain(strings(note.get("description")))
            .any(|text| says(text, phrases))
    })
}

fn says(text: &str, phrases: &[&str]) -> bool {
    let text = head(text, MAX_SCAN).to_lowercase();
    phrases.iter().any(|p| text.contains(p))
}

/// Phrases of a notice title that mean "you are being rate limited now".
const QUOTA_TITLES: &[&str] = &[
    "quota exceeded",
    "quota reached",
    "exceeded",
    "too many requests",
    "too many queries",
    "rate limited",
    "throttled",
];

/// Phrases of a notice description that mean "you are being rate limited
/// now". Stricter than the titles: terms of service often describe the
/// policy ("if too many queries are received ... the service will begin to
/// reject further queries", "access ... is rate limited").
const QUOTA_DESCRIPTIONS: &[&str] = &[
    "quota exceeded",
    "quota has been exceeded",
    "quota was exceeded",
    "you have exceeded",
    "rate limit exceeded",
    "query limit exceeded",
    "request limit exceeded",
    "limit has been exceeded",
];

/// Remark phrase of ICANN's gTLD RDAP profile for redacted contact data.
const REDACTED_PHRASES: &[&str] = &["redacted for privacy"];

/// Lower-case substrings of a contact's vCard `fn`/`org` that name a privacy
/// or proxy service, or stand in for a withheld name. Checked only on
/// registrant/admin/tech/billing entities, never on the registrar.
const PRIVACY_NAMES: &[&str] = &[
    "privacy",
    "redacted",
    "whoisguard",
    "whois guard",
    "domains by proxy",
    "domainsbyproxy",
    "proxy",
    "withheld",
    "data protected",
    "identity protect",
    "id protect",
    "private registration",
    "private registrant",
    "not disclosed",
];

/// Whether the registrant's identity is hidden. See [`parse_domain`] fixture
/// tests for how each real response is judged.
fn privacy(obj: &Map<String, Value>, entities: &[Found<'_>]) -> bool {
    // RFC 9537: a redaction of registrant data.
    let redacts_registrant = objects(obj.get("redacted")).any(|r| {
        let name = r.get("name").and_then(Value::as_object);
        let name_texts = ["type", "description"]
            .into_iter()
            .filter_map(|k| name.and_then(|n| n.get(k)).and_then(Value::as_str));
        let paths = ["prePath", "postPath", "replacementPath"]
            .into_iter()
            .filter_map(|k| r.get(k).and_then(Value::as_str));
        name_texts.chain(paths).any(|t| says(t, &["registrant"]))
    });
    if redacts_registrant {
        return true;
    }
    // "REDACTED FOR PRIVACY" on the domain or in the notices.
    if ["remarks", "notices"]
        .iter()
        .any(|k| notes_say(obj.get(*k), REDACTED_PHRASES))
    {
        return true;
    }
    // The domain's contacts (not the registrar's own contacts).
    entities
        .iter()
        .filter(|e| !e.under_registrar && is_contact(e.map))
        .any(|e| {
            notes_say(e.map.get("remarks"), REDACTED_PHRASES)
                // RFC 9083 10.2.2: "proxy" = registered by a third party,
                // "private" = not for public consumption.
                || strings(e.map.get("status")).any(|s| {
                    let s = s.trim();
                    s.eq_ignore_ascii_case("proxy") || s.eq_ignore_ascii_case("private")
                })
                || ["fn", "org"]
                    .iter()
                    .filter_map(|p| vcard_text(e.map, p))
                    .any(|name| says(name, PRIVACY_NAMES))
        })
}

/// The registrar's RDAP URL: a top-level link with rel "related" and type
/// "application/rdap+json" (or, with no type, an href containing
/// "/domain/"), http or https. A link back to the response's own `self`
/// URL is not a referral.
fn referral(obj: &Map<String, Value>) -> Option<String> {
    let links: Vec<&Map<String, Value>> = objects(obj.get("links")).collect();
    let self_hrefs: Vec<&str> = links
        .iter()
        .filter(|l| rel_is(l, "self"))
        .filter_map(|l| link_href(l))
        .collect();
    links
        .iter()
        .filter(|l| rel_is(l, "related"))
        .filter_map(|l| {
            let h = link_href(l)?;
            let lower = h.to_ascii_lowercase();
            if !(lower.starts_with("https://") || lower.starts_with("http://")) {
                return None;
            }
            let type_ok = match l.get("type") {
                Some(Value::String(t)) => t
                    .split(';')
                    .next()
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/rdap+json")),
                _ => lower.contains("/domain/"),
            };
            let is_self = self_hrefs.iter().any(|s| s.eq_ignore_ascii_case(h));
            (type_ok && !is_self).then(|| h.to_owned())
        })
        .next()
}

fn rel_is(link: &Map<String, Value>, rel: &str) -> bool {
    link.get("rel")
        .and_then(Value::as_str)
        .is_some_and(|r| r.trim().eq_ignore_ascii_case(rel))
}

fn link_href(link: &Map<String, Value>) -> Option<&str> {
    link.get("href")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|h| !h.is_empty() && h.len() <= MAX_URL_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_fast_agrees_with_chrono() {
        let mut cases = vec![
            "2026-11-24T00:00:00Z".to_string(),
            "2026-11-24T00:00:00.000123Z".into(),
            "1995-08-14T04:00:00Z".into(),
            "2024-02-29T23:59:59.999999999Z".into(),
            "2023-02-29T00:00:00Z".into(),
            "2026-11-24T24:00:00Z".into(),
            "2026-11-24T00:60:00Z".into(),
            "2026-11-24T00:00:60Z".into(),
            "2026-13-01T00:00:00Z".into(),
            "2026-00-01T00:00:00Z".into(),
            "0000-01-01T00:00:00Z".into(),
            "2026-11-24T00:00:00.Z".into(),
            "2026-11-24T00:00:00.1234567891Z".into(),
            "2026-11-24T00:00:00.5".into(),
            "2026-11-24t00:00:00z".into(),
            "2026-11-24 00:00:00Z".into(),
            "2026-11-24T00:00:00+00:00".into(),
            "2026-11-24T00:00:00-05:00".into(),
            "+2026-11-24T00:00:00Z".into(),
            "2026-1-24T00:00:00Z".into(),
            "2026-11-24T00:00:00ZZ".into(),
        ];
        for frac in [
            "",
            ".1",
            ".12",
            ".123",
            ".1234",
            ".12345",
            ".123456",
            ".1234567",
            ".12345678",
            ".123456789",
        ] {
            for (y, m, d) in [(1970, 1, 1), (2000, 2, 29), (1999, 12, 31), (9999, 12, 31)] {
                cases.push(format!("{y:04}-{m:02}-{d:02}T13:07:59{frac}Z"));
            }
        }
        assert!(utc_fast("2026-11-24T00:00:00.000123Z").is_some());
        assert!(utc_fast("1995-08-14T04:00:00Z").is_some());
        for s in &cases {
            let ours = utc_fast(s);
            let strict = DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc));
            let relaxed = s
                .parse::<DateTime<chrono::FixedOffset>>()
                .ok()
                .map(|t| t.with_timezone(&Utc));
            if ours.is_some() {
                assert_eq!(ours, strict, "{s}");
                assert_eq!(ours, relaxed, "{s}");
            }
            assert_eq!(parse_date(s), parse_date_chrono(s), "{s}");
        }
        // A record's times read the same, and so do its errors.
        for s in &cases {
            let line = format!("{{\"domain\":\"a.com\",\"created\":{s:?}}}");
            let ours = serde_json::from_str::<Registration>(&line)
                .map(|r| r.created)
                .map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<ChronoTimes>(&line)
                .map(|r| r.created)
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{s}");
        }
        for v in ["null", "5", "true", "[]"] {
            let line = format!("{{\"domain\":\"a.com\",\"created\":{v}}}");
            let ours = serde_json::from_str::<Registration>(&line)
                .map(|r| r.created)
                .map_err(|e| e.to_string());
            let theirs = serde_json::from_str::<ChronoTimes>(&line)
                .map(|r| r.created)
                .map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "{v}");
        }
    }

    #[test]
    fn fixed_width_agrees_with_chrono() {
        let dates = [
            "2026-11-24",
            "0000-01-01",
            "9999-12-31",
            "2024-02-29",
            "2023-02-29",
        ];
        let seps = ["T", "t", " ", "_"];
        let times = ["13:07:59", "00:00:00", "23:59:60", "24:00:00", "1:07:59"];
        let fractions = [
            "",
            ".",
            ".1",
            ".123",
            ".123456",
            ".123456789",
            ".1234567891",
            ".12a",
        ];
        let zones = [
            "",
            "Z",
            "z",
            "+00:00",
            "-00:00",
            "-04:00",
            "+05:30",
            "+0530",
            "-0400",
            "+0000",
            "+23:59",
            "-2359",
            "+24:00",
            "-2400",
            "+12:60",
            "+1260",
            "+1",
            "+01",
            "+01:0",
            "+010",
            "+0100Z",
            " Z",
            " +0100",
            "UTC",
            "+01:00:00",
            "+0a:00",
            "--0400",
        ];
        let mut fast = 0;
        // One `LastSecond` across all forms, as an event stream keeps one:
        // each head is met many times in a row (the fractions and zones
        // vary fastest), then replaced.
        let mut last = LastSecond::default();
        for date in dates {
            for sep in seps {
                for time in times {
                    for fraction in fractions {
                        for zone in zones {
                            let s = format!("{date}{sep}{time}{fraction}{zone}");
                            assert_eq!(parse_date(&s), parse_date_chrono(&s), "{s}");
                            assert_eq!(parse_date_with(&s, &mut last), parse_date(&s), "{s}");
                            assert_eq!(fixed_width(&s, false, &mut last), utc_fast(&s), "{s}");
                            if let Some(t) = fixed_width(&s, true, &mut LastSecond::default()) {
                                fast += 1;
                                assert_eq!(Some(t), parse_date_general(&s), "{s}");
                            }
                        }
                    }
                }
            }
        }
        assert!(fast > 500, "the fast path took only {fast} of the forms");
        // The real forms take the fast path.
        for s in [
            "2018-07-05T15:01:09.820360-0400",
            "2019-07-18 03:34:01.239",
            "2019-07-18T03:34:02.0252239Z",
            "2018-03-24T17:15:20.865716Z",
            "2026-11-24T00:00:00+00:00",
        ] {
            assert!(fixed_width(s, true, &mut last).is_some(), "{s}");
            assert_eq!(parse_date(s), parse_date_chrono(s), "{s}");
        }
        assert_eq!(
            parse_date("2018-07-05T15:01:09.820360-0400"),
            Some(dt("2018-07-05T19:01:09.820360Z"))
        );
        // A record's times keep the strict form: no space, no bare time.
        assert!(utc_fast("2019-07-18 03:34:01.239Z").is_none());
        assert!(utc_fast("2019-07-18T03:34:01.239").is_none());
        assert!(utc_fast("2019-07-18T03:34:01+00:00").is_none());
    }

    #[derive(serde::Deserialize)]
    struct ChronoTimes {
        #[allow(dead_code)]
        domain: String,
        #[serde(default)]
        created: Option<DateTime<Utc>>,
    }

    /// `parse_date` as it was before `utc_fast`, for the comparison.
    fn parse_date_chrono(s: &str) -> Option<DateTime<Utc>> {
        let s = s.trim();
        if s.is_empty() || s.len() > 64 || !s.is_ascii() {
            return None;
        }
        super::parse_date_general(s)
    }

    fn dt(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn shared(v: &[&str]) -> crate::registration::SharedList {
        v.iter().map(|&s| Shared::new(s)).collect()
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    const VERISIGN: &[u8] = include_bytes!("../tests/fixtures/rdap/verisign-google.com.json");
    const MARKMONITOR: &[u8] =
        include_bytes!("../tests/fixtures/rdap/markmonitor-registrar-google.com.json");
    const PIR: &[u8] = include_bytes!("../tests/fixtures/rdap/pir-wicar.org.json");
    const NOMINET: &[u8] = include_bytes!("../tests/fixtures/rdap/nominet-bbc.co.uk.json");
    const CENTRALNIC: &[u8] = include_bytes!("../tests/fixtures/rdap/centralnic-nic.xyz.json");
    const CLICK: &[u8] = include_bytes!("../tests/fixtures/rdap/click-microsoft.click.json");
    const CZNIC: &[u8] = include_bytes!("../tests/fixtures/rdap/cznic-example.cz.json");

    const ALL: &[(&str, &[u8])] = &[
        ("verisign", VERISIGN),
        ("markmonitor", MARKMONITOR),
        ("pir", PIR),
        ("nominet", NOMINET),
        ("centralnic", CENTRALNIC),
        ("click", CLICK),
        ("cznic", CZNIC),
    ];

    fn fetched() -> DateTime<Utc> {
        dt("2026-01-02T03:04:05Z")
    }

    fn parse(body: &[u8], server: &str) -> Parsed {
        parse_domain(body, Some(server), Some(fetched())).unwrap()
    }

    // ---- fixtures -------------------------------------------------------

    #[test]
    fn verisign_google_com() {
        let p = parse(VERISIGN, "https://rdap.verisign.com/com/v1/");
        let expected = Registration {
            // ldhName "GOOGLE.COM" is lower-cased.
            domain: "google.com".into(),
            registered: true,
            created: Some(dt("1997-09-15T04:00:00Z")),
            expires: Some(dt("2028-09-14T04:00:00Z")),
            // Only "last update of RDAP database" is present: no `updated`.
            updated: None,
            transferred: None,
            status: shared(&[
                "clientDeleteProhibited",
                "clientTransferProhibited",
                "clientUpdateProhibited",
                "serverDeleteProhibited",
                "serverTransferProhibited",
                "serverUpdateProhibited",
            ]),
            registrar: Some("MarkMonitor Inc.".into()),
            registrar_iana_id: Some(292),
            nameservers: strs(&[
                "ns1.google.com",
                "ns2.google.com",
                "ns3.google.com",
                "ns4.google.com",
            ]),
            // Thin registry: no contact entities, no `redacted`, no remarks;
            // the notices say nothing of redaction. Nothing is hidden here
            // (the registrar's answer below is what says so).
            privacy: false,
            source: Source::Rdap,
            server: Some("https://rdap.verisign.com/com/v1/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        assert_eq!(
            p.referral.as_deref(),
            Some("https://rdap.markmonitor.com/rdap/domain/GOOGLE.COM")
        );
    }

    #[test]
    fn markmonitor_google_com() {
        let p = parse(MARKMONITOR, "https://rdap.markmonitor.com/rdap/");
        let expected = Registration {
            domain: "google.com".into(),
            registered: true,
            // "+0000" offsets with ".000" fractions. Note the registrar's
            // times differ from the registry's (07:00 vs 04:00, and expiry
            // on the 13th vs the 14th).
            created: Some(dt("1997-09-15T07:00:00Z")),
            expires: Some(dt("2028-09-13T07:00:00Z")),
            // Non-standard "last update"; the entities' own "last update"
            // events and the registrar's "registrar expiration" are ignored.
            updated: Some(dt("2019-09-09T15:39:04Z")),
            transferred: None,
            // Same six values as Verisign, in this server's order.
            status: shared(&[
                "clientUpdateProhibited",
                "clientTransferProhibited",
                "clientDeleteProhibited",
                "serverUpdateProhibited",
                "serverTransferProhibited",
                "serverDeleteProhibited",
            ]),
            // No vCard `fn`: the name comes from `org`.
            registrar: Some("MarkMonitor Inc.".into()),
            registrar_iana_id: Some(292),
            nameservers: strs(&[
                "ns1.google.com",
                "ns2.google.com",
                "ns3.google.com",
                "ns4.google.com",
            ]),
            // The registrant (and admin, tech) entities carry a remark titled
            // "REDACTED FOR PRIVACY": the registrant's name, e-mail, phone
            // and street are withheld (only org "Google LLC", state and
            // country are shown). Counts as privacy under our rule, although
            // this is GDPR-style redaction and not a privacy service.
            privacy: true,
            source: Source::Rdap,
            server: Some("https://rdap.markmonitor.com/rdap/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        // Only a `self` link at the top level; the notices' "related" links
        // are text/html and not top-level.
        assert_eq!(p.referral, None);
    }

    #[test]
    fn pir_wicar_org() {
        let p = parse(PIR, "https://rdap.publicinterestregistry.org/rdap/");
        let expected = Registration {
            domain: "wicar.org".into(),
            registered: true,
            created: Some(dt("2012-11-07T04:14:52.296Z")),
            expires: Some(dt("2027-11-07T04:14:52.296Z")),
            updated: Some(dt("2026-09-18T03:40:49.034Z")),
            transferred: Some(dt("2013-11-08T03:42:43.296Z")),
            status: shared(&["clientTransferProhibited"]),
            registrar: Some("PDR Ltd. d/b/a PublicDomainRegistry.com".into()),
            registrar_iana_id: Some(303),
            nameservers: strs(&[
                "ns.phx4.nearlyfreespeech.net",
                "ns.phx5.nearlyfreespeech.net",
            ]),
            // The RFC 9537 `redacted` member is present but its only entry
            // is "Registry Domain ID" ($.handle): registry data, not the
            // registrant's. There is no registrant entity at all (PIR no
            // longer publishes contacts), no "REDACTED FOR PRIVACY" remark,
            // and the ToS notice's "[Non-Public Data]" wording is generic.
            // Nothing says the registrant is hidden: false.
            privacy: false,
            source: Source::Rdap,
            server: Some("https://rdap.publicinterestregistry.org/rdap/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        assert_eq!(
            p.referral.as_deref(),
            Some("https://rdapserver.net/domain/wicar.org")
        );
    }

    #[test]
    fn nominet_bbc_co_uk() {
        let p = parse(NOMINET, "https://rdap.nominet.uk/uk/");
        let expected = Registration {
            domain: "bbc.co.uk".into(),
            registered: true,
            created: Some(dt("1994-12-13T03:49:48Z")),
            expires: Some(dt("2034-12-13T03:49:48Z")),
            // Microsecond fraction.
            updated: Some(dt("2025-10-29T03:51:11.009091Z")),
            transferred: None,
            status: shared(&[
                "serverDeleteProhibited",
                "serverTransferProhibited",
                "serverUpdateProhibited",
            ]),
            // Nominet's "registrar" is the tag holder (the BBC is its own);
            // its only public id is a "Registry Identifier" ("BBC"), not an
            // IANA id.
            registrar: Some("British Broadcasting Corporation".into()),
            registrar_iana_id: None,
            // Trailing dots stripped; order kept.
            nameservers: strs(&[
                "ddns0.bbc.co.uk",
                "ddns0.bbc.com",
                "ddns1.bbc.co.uk",
                "ddns1.bbc.com",
                "dns0.bbc.co.uk",
                "dns0.bbc.com",
                "dns1.bbc.co.uk",
                "dns1.bbc.com",
            ]),
            // `redacted` has 12 entries, all of registrant data (Registrant
            // Name, Organization, Email, Phone...), and the registrant entity
            // has "REDACTED FOR PRIVACY" remarks and an empty `fn`: true.
            privacy: true,
            source: Source::Rdap,
            server: Some("https://rdap.nominet.uk/uk/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        assert_eq!(p.referral, None);
    }

    #[test]
    fn centralnic_nic_xyz() {
        let p = parse(CENTRALNIC, "https://rdap.centralnic.com/xyz/");
        let expected = Registration {
            domain: "nic.xyz".into(),
            registered: true,
            // ".0Z" fractions.
            created: Some(dt("2013-09-11T11:58:06Z")),
            expires: Some(dt("2024-09-11T23:59:59Z")),
            updated: Some(dt("2023-09-05T00:05:10Z")),
            transferred: None,
            status: shared(&[
                "serverTransferProhibited",
                "serverUpdateProhibited",
                "serverDeleteProhibited",
                "serverRenewProhibited",
            ]),
            // IANA id 9999 is the id reserved for a registry acting as its
            // own registrar.
            registrar: Some("CentralNic Ltd".into()),
            registrar_iana_id: Some(9999),
            nameservers: strs(&[
                "x.nic.xyz",
                "y.nic.xyz",
                "z.nic.xyz",
                "generationxyz.nic.xyz",
            ]),
            // The registrant (also tech/admin/billing) entity has remarks
            // "REDACTED FOR PRIVACY" and "EMAIL REDACTED FOR PRIVACY" and
            // status "removed"; only org "XYZ.COM LLC", state and country are
            // shown. True (redaction, not a privacy service).
            privacy: true,
            source: Source::Rdap,
            server: Some("https://rdap.centralnic.com/xyz/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        // The "related" link ("URL of Sponsoring Registrar's RDAP Record")
        // is the same URL as this response's `self` link: following it would
        // fetch the same answer again, so it is not reported as a referral.
        assert_eq!(p.referral, None);
    }

    #[test]
    fn click_microsoft_click() {
        let p = parse(CLICK, "https://rdap.uniregistry.net/");
        let expected = Registration {
            domain: "microsoft.click".into(),
            registered: true,
            created: Some(dt("2014-11-12T19:15:55.283Z")),
            expires: Some(dt("2024-11-12T19:15:55.283Z")),
            updated: Some(dt("2023-10-17T10:47:21.733Z")),
            transferred: None,
            status: shared(&[
                "clientUpdateProhibited",
                "clientTransferProhibited",
                "clientDeleteProhibited",
            ]),
            // The registrar entity has handle "292" but no publicIds: no
            // IANA id is claimed. (Its nested abuse contact is "Markmonitor";
            // the registrar's own `fn` is used.)
            registrar: Some("MarkMonitor Inc.".into()),
            registrar_iana_id: None,
            nameservers: strs(&[
                "ns4-08.azure-dns.info",
                "ns2-08.azure-dns.net",
                "ns3-08.azure-dns.org",
                "ns1-08.azure-dns.com",
            ]),
            // Registrant, admin and tech entities all have "REDACTED FOR
            // PRIVACY" remarks (registrant org "Microsoft Corporation" is
            // shown, name/e-mail/street withheld): true.
            privacy: true,
            source: Source::Rdap,
            server: Some("https://rdap.uniregistry.net/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        // No top-level links at all.
        assert_eq!(p.referral, None);
    }

    #[test]
    fn cznic_example_cz() {
        let p = parse(CZNIC, "https://rdap.nic.cz/");
        let expected = Registration {
            domain: "example.cz".into(),
            registered: true,
            // "+00:00" offsets.
            created: Some(dt("2004-08-30T22:55:00Z")),
            expires: Some(dt("2019-08-30T12:00:00Z")),
            updated: None,
            transferred: Some(dt("2007-01-25T02:05:00Z")),
            // RDAP "active" is EPP "ok".
            status: shared(&["ok"]),
            // The registrar entity has only a handle ("REG-INTERNET-CZ"): no
            // vCard, no publicIds, so no name and no id.
            registrar: None,
            registrar_iana_id: None,
            // From `nameservers`; the duplicate list under the FRED extension
            // member `fred_nsset` is not read.
            nameservers: strs(&["ns2.pipni.cz", "ns3.pipni.cz", "ns.pipni.cz"]),
            // The registrant entity ("SB:EXAMPLE") has no vCard, remarks or
            // status; no `redacted`; nothing indicates hiding: false.
            privacy: false,
            source: Source::Rdap,
            server: Some("https://rdap.nic.cz/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(p.registration, expected);
        assert_eq!(p.referral, None);
    }

    #[test]
    fn merge_verisign_and_markmonitor() {
        let registry = parse(VERISIGN, "https://rdap.verisign.com/com/v1/").registration;
        let registrar = parse(MARKMONITOR, "https://rdap.markmonitor.com/rdap/").registration;
        let m = merge(&registry, &registrar);
        let expected = Registration {
            domain: "google.com".into(),
            registered: true,
            // Registry dates win...
            created: Some(dt("1997-09-15T04:00:00Z")),
            expires: Some(dt("2028-09-14T04:00:00Z")),
            // ...the registrar fills the one the registry lacks.
            updated: Some(dt("2019-09-09T15:39:04Z")),
            transferred: None,
            // Registry's status, in its order.
            status: registry.status.clone(),
            registrar: Some("MarkMonitor Inc.".into()),
            registrar_iana_id: Some(292),
            nameservers: registry.nameservers.clone(),
            // Registrar says redacted.
            privacy: true,
            source: Source::Rdap,
            server: Some("https://rdap.verisign.com/com/v1/".into()),
            fetched: Some(fetched()),
        };
        assert_eq!(m, expected);
    }

    #[test]
    fn merge_fills_from_registrar() {
        let mut registry = Registration::new("example.com", Source::Rdap);
        registry.expires = Some(dt("2030-01-01T00:00:00Z"));
        registry.server = Some("registry".into());
        let mut registrar = Registration::new("EXAMPLE.COM", Source::Whois);
        registrar.created = Some(dt("2001-01-01T00:00:00Z"));
        registrar.expires = Some(dt("2031-01-01T00:00:00Z"));
        registrar.updated = Some(dt("2020-01-01T00:00:00Z"));
        registrar.transferred = Some(dt("2010-01-01T00:00:00Z"));
        registrar.status = shared(&["clientHold"]);
        registrar.nameservers = strs(&["ns1.example.net"]);
        registrar.registrar = Some("Example Registrar".into());
        registrar.registrar_iana_id = Some(9);
        registrar.server = Some("registrar".into());
        registrar.registered = false;

        let m = merge(&registry, &registrar);
        assert_eq!(m.domain, "example.com");
        assert!(m.registered);
        assert_eq!(m.source, Source::Rdap);
        assert_eq!(m.server.as_deref(), Some("registry"));
        assert_eq!(m.created, registrar.created);
        assert_eq!(m.expires, registry.expires);
        assert_eq!(m.updated, registrar.updated);
        assert_eq!(m.transferred, registrar.transferred);
        assert_eq!(m.status, strs(&["clientHold"]));
        assert_eq!(m.nameservers, strs(&["ns1.example.net"]));
        assert_eq!(m.registrar.as_deref(), Some("Example Registrar"));
        assert_eq!(m.registrar_iana_id, Some(9));
        assert!(!m.privacy);

        // The registry's own values are kept when present.
        registry.status = shared(&["ok"]);
        registry.nameservers = strs(&["a.ns.example"]);
        registry.registrar = Some("Registry Says".into());
        registry.registrar_iana_id = Some(1);
        registry.privacy = true;
        let m = merge(&registry, &registrar);
        assert_eq!(m.status, strs(&["ok"]));
        assert_eq!(m.nameservers, strs(&["a.ns.example"]));
        assert_eq!(m.registrar.as_deref(), Some("Registry Says"));
        assert_eq!(m.registrar_iana_id, Some(1));
        assert!(m.privacy);
    }

    #[test]
    fn server_and_fetched_may_be_absent() {
        let p = parse_domain(CZNIC, None, None).unwrap();
        assert_eq!(p.registration.server, None);
        assert_eq!(p.registration.fetched, None);
    }

    // ---- not found / quota ----------------------------------------------

    #[test]
    fn not_found() {
        let body = br#"{"errorCode":404,"title":"Not Found"}"#;
        assert!(is_not_found(body));
        assert!(is_not_found(
            br#"{"rdapConformance":["rdap_level_0"],"errorCode":"404","title":"Not Found","description":["x"]}"#
        ));
        assert!(!is_not_found(br#"{"errorCode":400,"title":"Bad Request"}"#));
        assert!(!is_not_found(b""));
        assert!(!is_not_found(b"not json"));
        assert!(!is_not_found(b"[404]"));
        for (name, f) in ALL {
            assert!(!is_not_found(f), "{name}");
        }
        match parse_domain(body, None, None) {
            Err(RdapError::ErrorResponse { code, title }) => {
                assert_eq!(code, Some(404));
                assert_eq!(title, "Not Found");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn quota_exceeded() {
        let body = br#"{"rdapConformance":["rdap_level_0"],"notices":[{"title":"Quota exceeded","description":["You have exceeded your query quota. Try again later."]}]}"#;
        assert!(is_quota_exceeded(body));
        assert!(is_quota_exceeded(
            br#"{"notices":[{"title":"429 Too Many Requests","description":["Slow down"]}]}"#
        ));
        assert!(is_quota_exceeded(
            br#"{"remarks":[{"description":"Rate limit exceeded"}]}"#
        ));
        assert!(is_quota_exceeded(br#"{"errorCode":429,"title":"x"}"#));
        assert!(!is_quota_exceeded(b"{}"));
        // Policy wording in a description is not a refusal.
        assert!(!is_quota_exceeded(
            br#"{"notices":[{"title":"Terms","description":["If too many queries are received, further requests will be rejected.", "Do not send too many requests."]}]}"#
        ));
        assert!(!is_quota_exceeded(b"garbage"));
        // Policy statements about rate limiting are not a refusal: CentralNic
        // says "Access to the Whois and RDAP services is rate limited", PIR
        // says "Queries to the RDAP services are throttled".
        for (name, f) in ALL {
            assert!(!is_quota_exceeded(f), "{name}");
        }
        // A quota notice without a domain is not a domain.
        assert!(matches!(
            parse_domain(body, None, None),
            Err(RdapError::MissingName)
        ));
    }

    // ---- dates ----------------------------------------------------------

    #[test]
    fn dates() {
        let base = dt("2021-04-14T02:30:22Z");
        for s in [
            "2021-04-14T02:30:22Z",
            "2021-04-14T02:30:22z",
            "2021-04-14T02:30:22.0Z",
            "2021-04-14T02:30:22.000+0000",
            "2021-04-14T02:30:22+0000",
            "2021-04-14T02:30:22+00:00",
            "2021-04-14T05:30:22+03:00",
            "2021-04-14T05:30:22.000+0300",
            "2021-04-13T23:30:22-03:00",
            "2021-04-14T02:30:22",
            "2021-04-14T02:30:22.0",
            "2021-04-14 02:30:22",
            "2021-04-14 02:30:22Z",
            "  2021-04-14T02:30:22Z\n",
        ] {
            assert_eq!(parse_date(s), Some(base), "{s:?}");
        }
        assert_eq!(
            parse_date("2021-04-14T02:30:22.123456Z"),
            Some(dt("2021-04-14T02:30:22.123456Z"))
        );
        assert_eq!(
            parse_date("2025-10-29T03:51:11.009091Z").map(|d| d.timestamp_subsec_micros()),
            Some(9091)
        );
        assert_eq!(parse_date("2021-04-14"), Some(dt("2021-04-14T00:00:00Z")));
        for s in [
            "",
            "   ",
            "garbage",
            "2021-13-01T00:00:00Z",
            "2021-02-30",
            "0000-00-00T00:00:00Z",
            "2021-04-14T25:00:00Z",
            "2021-04-14T02:30:22+99:99",
            "14/04/2021",
            "2021-04-14T02:30:22Zjunk",
            "２０２１-04-14",
            "1618367422",
        ] {
            assert_eq!(parse_date(s), None, "{s:?}");
        }
        assert_eq!(parse_date(&"9".repeat(10_000)), None);
    }

    // ---- leniency -------------------------------------------------------

    #[test]
    fn lenient_variants() {
        let body = r#"{
            "ldhName": "EXAMPLE.ORG.",
            "status": ["Client Transfer Prohibited", "server recover prohibited", 7,
                       "clientTransferProhibited", "  ", "ACTIVE"],
            "events": [
                {"eventAction": "Registration", "eventDate": "2001-02-03T04:05:06+0000"},
                {"eventAction": "EXPIRATION", "eventDate": "2031-02-03"},
                {"eventAction": "last updated", "eventDate": "2020-01-01T00:00:00"},
                {"eventAction": "last update of RDAP database", "eventDate": "2024-01-01T00:00:00Z"},
                {"eventAction": "transfer", "eventDate": "2010-01-01T00:00:00Z"},
                {"eventAction": "transfer", "eventDate": "2015-01-01T00:00:00Z"},
                {"eventAction": "transfer", "eventDate": "2012-01-01T00:00:00Z"},
                {"eventAction": "transfer", "eventDate": "not a date"},
                {"eventAction": 5, "eventDate": "2019-01-01T00:00:00Z"},
                "junk"
            ],
            "nameservers": [{"ldhName": "NS1.EXAMPLE.NET."}, {"ldhName": "ns1.example.net"},
                            {"ldhName": 3}, {"unicodeName": "ns.bücher.example"},
                            {"ldhName": "bad name with spaces"}, "junk"],
            "entities": [
                {"roles": "Technical", "vcardArray": ["vcard", [["fn", {}, "text", "Jane Doe"]]]},
                {"roles": ["tech"], "entities": [
                    {"roles": ["REGISTRAR"],
                     "publicIds": [{"type": "iana registrar id", "identifier": "n/a"},
                                   {"type": "IANA Registrar ID", "identifier": 1234}],
                     "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                              ["fn", {}, "text", "  "],
                                              ["org", {}, "text", ["Nested Registrar", "Unit"]]]]}
                ]}
            ],
            "links": [{"rel": "related", "href": "https://registrar.example/rdap/domain/example.org"}],
            "secureDNS": "wrong type"
        }"#;
        let p = parse_domain(body.as_bytes(), None, None).unwrap();
        let r = p.registration;
        assert_eq!(r.domain, "example.org");
        assert_eq!(
            r.status,
            strs(&[
                "clientTransferProhibited",
                "server recover prohibited",
                "ok"
            ])
        );
        assert_eq!(r.created, Some(dt("2001-02-03T04:05:06Z")));
        assert_eq!(r.expires, Some(dt("2031-02-03T00:00:00Z")));
        assert_eq!(r.updated, Some(dt("2020-01-01T00:00:00Z")));
        assert_eq!(r.transferred, Some(dt("2015-01-01T00:00:00Z")));
        assert_eq!(
            r.nameservers,
            strs(&["ns1.example.net", "ns.xn--bcher-kva.example"])
        );
        // Found one level down, name from `org` (fn is blank), the
        // non-numeric IANA id skipped.
        assert_eq!(r.registrar.as_deref(), Some("Nested Registrar"));
        assert_eq!(r.registrar_iana_id, Some(1234));
        assert!(!r.privacy);
        // No type, but the href has "/domain/".
        assert_eq!(
            p.referral.as_deref(),
            Some("https://registrar.example/rdap/domain/example.org")
        );
    }

    #[test]
    fn last_changed_beats_last_update() {
        let body = br#"{"ldhName":"a.com","events":[
            {"eventAction":"last update","eventDate":"2020-01-01T00:00:00Z"},
            {"eventAction":"last changed","eventDate":"2021-01-01T00:00:00Z"}]}"#;
        let r = parse_domain(body, None, None).unwrap().registration;
        assert_eq!(r.updated, Some(dt("2021-01-01T00:00:00Z")));
    }

    #[test]
    fn referral_rules() {
        let with_links = |links: &str| {
            let body = format!(r#"{{"ldhName":"a.com","links":{links}}}"#);
            parse_domain(body.as_bytes(), None, None).unwrap().referral
        };
        assert_eq!(
            with_links(
                r#"[{"rel":"RELATED","type":"application/rdap+json","href":"http://r.example/x"}]"#
            )
            .as_deref(),
            Some("http://r.example/x")
        );
        // Wrong type.
        assert_eq!(
            with_links(
                r#"[{"rel":"related","type":"text/html","href":"https://r.example/domain/a.com"}]"#
            ),
            None
        );
        // No type and no "/domain/".
        assert_eq!(
            with_links(r#"[{"rel":"related","href":"https://r.example/"}]"#),
            None
        );
        // Not http(s).
        assert_eq!(
            with_links(
                r#"[{"rel":"related","type":"application/rdap+json","href":"ftp://r.example/domain/a.com"}]"#
            ),
            None
        );
        // Same as self.
        assert_eq!(
            with_links(
                r#"[{"rel":"self","href":"https://r.example/domain/a.com"},
                    {"rel":"related","type":"application/rdap+json","href":"https://r.example/domain/a.com"}]"#
            ),
            None
        );
        // Wrong types everywhere.
        assert_eq!(with_links(r#""x""#), None);
        assert_eq!(with_links(r#"[1, {"rel": 2, "href": []}]"#), None);
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_domain(b"", None, None),
            Err(RdapError::Json(_))
        ));
        assert!(matches!(
            parse_domain(b"[]", None, None),
            Err(RdapError::NotObject)
        ));
        assert!(matches!(
            parse_domain(br#"{"objectClassName":"entity","ldhName":"x.com"}"#, None, None),
            Err(RdapError::NotDomain(c)) if c == "entity"
        ));
        assert!(matches!(
            parse_domain(br#"{"objectClassName":"domain"}"#, None, None),
            Err(RdapError::MissingName)
        ));
        assert!(matches!(
            parse_domain(br#"{"ldhName":" . "}"#, None, None),
            Err(RdapError::InvalidName(_))
        ));
        // objectClassName missing is fine; of the wrong type, ignored.
        assert!(parse_domain(br#"{"ldhName":"a.com"}"#, None, None).is_ok());
        assert!(parse_domain(br#"{"objectClassName":7,"ldhName":"a.com"}"#, None, None).is_ok());
        // unicodeName only.
        let r = parse_domain(r#"{"unicodeName":"Bücher.Example"}"#.as_bytes(), None, None)
            .unwrap()
            .registration;
        assert_eq!(r.domain, "xn--bcher-kva.example");
        let big = vec![b' '; MAX_BODY + 1];
        assert!(matches!(
            parse_domain(&big, None, None),
            Err(RdapError::TooLarge { .. })
        ));
    }

    // ---- privacy rules --------------------------------------------------

    fn privacy_of(body: &str) -> bool {
        parse_domain(body.as_bytes(), None, None)
            .unwrap()
            .registration
            .privacy
    }

    #[test]
    fn privacy_rules() {
        let contact = |role: &str, name: &str| {
            format!(
                r#"{{"ldhName":"a.com","entities":[{{"roles":["{role}"],"vcardArray":["vcard",[["version",{{}},"text","4.0"],["fn",{{}},"text","{name}"]]]}}]}}"#
            )
        };
        for name in [
            "Domains By Proxy, LLC",
            "WhoisGuard Protected",
            "Contact Privacy Inc. Customer 12345",
            "REDACTED FOR PRIVACY",
            "Withheld for Privacy ehf",
            "Perfect Privacy, LLC",
            "Data Protected",
            "Identity Protection Service",
            "Private Registration",
        ] {
            assert!(privacy_of(&contact("registrant", name)), "{name}");
            assert!(privacy_of(&contact("Technical", name)), "{name}");
        }
        // Ordinary names, and privacy-sounding registrar names, do not count.
        assert!(!privacy_of(&contact("registrant", "Google LLC")));
        assert!(!privacy_of(&contact("registrant", "MarkMonitor Inc.")));
        assert!(!privacy_of(&contact("registrar", "Privacy Registrar Ltd")));
        assert!(!privacy_of(&contact("abuse", "Proxy Abuse Desk")));
        // A registrar's own nested contacts are not the registrant's.
        assert!(!privacy_of(
            r#"{"ldhName":"a.com","entities":[{"roles":["registrar"],"entities":[
                {"roles":["technical"],"remarks":[{"title":"REDACTED FOR PRIVACY"}]}]}]}"#
        ));
        // Entity status "proxy"/"private".
        assert!(privacy_of(
            r#"{"ldhName":"a.com","entities":[{"roles":["registrant"],"status":["private"]}]}"#
        ));
        // Domain-level remark.
        assert!(privacy_of(
            r#"{"ldhName":"a.com","remarks":[{"description":["Registrant: Redacted For Privacy"]}]}"#
        ));
        // RFC 9537 redaction of registrant data, by name or by path.
        assert!(privacy_of(
            r#"{"ldhName":"a.com","redacted":[{"name":{"type":"Registrant Email"},"method":"removal"}]}"#
        ));
        assert!(privacy_of(
            r#"{"ldhName":"a.com","redacted":[{"name":{"description":"x"},"prePath":"$.entities[?(@.roles[0]=='registrant')]"}]}"#
        ));
        // Redaction of other data does not count; nor does an empty list.
        assert!(!privacy_of(
            r#"{"ldhName":"a.com","redacted":[{"name":{"type":"Tech Email"}}]}"#
        ));
        assert!(!privacy_of(r#"{"ldhName":"a.com","redacted":[]}"#));
        assert!(!privacy_of(
            r#"{"ldhName":"a.com","redacted":"registrant"}"#
        ));
    }

    // ---- hostile input --------------------------------------------------

    #[test]
    fn truncated_bodies_never_panic() {
        for (name, f) in [("verisign", VERISIGN), ("cznic", CZNIC)] {
            let full = f.trim_ascii_end().len();
            for n in 0..=f.len() {
                let r = parse_domain(f.get(..n).unwrap(), None, None);
                if n < full {
                    assert!(r.is_err(), "{name} prefix {n}");
                } else {
                    assert!(r.is_ok(), "{name} prefix {n}");
                }
                let _ = is_not_found(f.get(..n).unwrap());
                let _ = is_quota_exceeded(f.get(..n).unwrap());
            }
        }
    }

    #[test]
    fn deeply_nested_entities() {
        // 10,000 levels: serde_json's recursion limit refuses it.
        let depth = 10_000;
        let mut s = String::from(r#"{"objectClassName":"domain","ldhName":"a.com","entities":"#);
        for _ in 0..depth {
            s.push_str(r#"[{"roles":["registrar"],"entities":"#);
        }
        s.push_str("[]");
        for _ in 0..depth {
            s.push_str("}]");
        }
        s.push('}');
        assert!(matches!(
            parse_domain(s.as_bytes(), None, None),
            Err(RdapError::Json(_))
        ));
        assert!(!is_not_found(s.as_bytes()));
        assert!(!is_quota_exceeded(s.as_bytes()));

        // Within serde_json's limit but beyond MAX_DEPTH: not found.
        let nested = |levels: usize| {
            let mut s = String::from(r#"{"ldhName":"a.com","entities":"#);
            for _ in 0..levels - 1 {
                s.push_str(r#"[{"roles":["x"],"entities":"#);
            }
            s.push_str(
                r#"[{"roles":["registrar"],"vcardArray":["vcard",[["fn",{},"text","Deep"]]]}]"#,
            );
            for _ in 0..levels - 1 {
                s.push_str("}]");
            }
            s.push('}');
            parse_domain(s.as_bytes(), None, None)
                .unwrap()
                .registration
                .registrar
        };
        assert_eq!(nested(1).as_deref(), Some("Deep"));
        assert_eq!(nested(MAX_DEPTH).as_deref(), Some("Deep"));
        assert_eq!(nested(MAX_DEPTH + 1), None);
        assert_eq!(nested(40), None);
    }

    #[test]
    fn huge_arrays() {
        // 100,000 status values: only the first MAX_ITEMS are read.
        let mut s = String::from(r#"{"ldhName":"a.com","status":["#);
        for i in 0..100_000 {
            if i > 0 {
                s.push(',');
            }
            s.push_str(&format!(r#""odd status {i}""#));
        }
        s.push_str("]}");
        let r = parse_domain(s.as_bytes(), None, None).unwrap().registration;
        assert_eq!(r.status.len(), MAX_ITEMS);
        assert_eq!(r.status.first().map(Shared::as_str), Some("odd status 0"));

        // Wide and nested entities: the walk stops at MAX_ENTITIES.
        let inner = vec![r#"{"roles":["x"]}"#; 200].join(",");
        let outer = vec![format!(r#"{{"roles":["y"],"entities":[{inner}]}}"#); 200].join(",");
        let s = format!(
            r#"{{"ldhName":"a.com","entities":[{outer}],"nameservers":[{}]}}"#,
            vec![r#"{"ldhName":"ns.a.com"}"#; 10_000].join(",")
        );
        let r = parse_domain(s.as_bytes(), None, None).unwrap().registration;
        assert_eq!(r.registrar, None);
        assert_eq!(r.nameservers, strs(&["ns.a.com"]));
    }

    #[test]
    fn long_strings_are_capped() {
        let long_name = "N".repeat(10_000);
        let long_host = format!("{}.example", "a".repeat(300));
        let long_status = "s".repeat(10_000);
        let body = format!(
            r#"{{"ldhName":"a.com","status":["{long_status}"],
                "nameservers":[{{"ldhName":"{long_host}"}},{{"ldhName":"ok.example"}}],
                "entities":[{{"roles":["registrar"],"vcardArray":["vcard",[["fn",{{}},"text","{long_name}"]]]}}]}}"#
        );
        let r = parse_domain(body.as_bytes(), None, None)
            .unwrap()
            .registration;
        assert_eq!(r.registrar.map(|n| n.chars().count()), Some(MAX_NAME_CHARS));
        assert_eq!(r.nameservers, strs(&["ok.example"]));
        assert_eq!(
            r.status.first().map(|s| s.chars().count()),
            Some(MAX_STATUS_CHARS)
        );
        // Multi-byte characters are cut on a character boundary.
        assert_eq!(cut_chars("ééé", 2), "éé");
        assert_eq!(head("ééé", 3), "é");
    }

    #[test]
    fn arbitrary_json_never_panics() {
        for body in [
            "null",
            "1",
            "\"x\"",
            "{}",
            r#"{"ldhName":null}"#,
            r#"{"ldhName":["a.com"]}"#,
            r#"{"ldhName":"a.com","entities":{"roles":"registrar"}}"#,
            r#"{"ldhName":"a.com","entities":[{"roles":["registrar"],"vcardArray":"x","publicIds":{}}]}"#,
            r#"{"ldhName":"a.com","entities":[{"roles":["registrar"],"vcardArray":["vcard"]}]}"#,
            r#"{"ldhName":"a.com","entities":[{"roles":["registrar"],"vcardArray":["vcard",[[],["fn"],["fn",{},"text",5]]]}]}"#,
            r#"{"ldhName":"a.com","events":{"eventAction":"registration"}}"#,
            r#"{"ldhName":"a.com","redacted":[{"name":"x"},{"name":{"type":5}}]}"#,
            r#"{"ldhName":"a.com","remarks":[{"title":null,"description":[1,[2]]}]}"#,
            r#"{"errorCode":{},"title":[]}"#,
            r#"{"errorCode":99999999999}"#,
        ] {
            let _ = parse_domain(body.as_bytes(), None, None);
            let _ = is_not_found(body.as_bytes());
            let _ = is_quota_exceeded(body.as_bytes());
        }
    }
}
