//! The risk rules: which facts about a registration fire which rule, the
//! score they add up to, and the ATT&CK techniques they point to.
//!
//! Pure: the event time is passed in; nothing here reads a clock.

use chrono::{DateTime, Utc};

use crate::Registration;
use crate::attack::{self, Technique};
use crate::config::RulesConfig;

/// A rule domreg can fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// Registered fewer than N days before the event.
    NewlyRegistered,
    /// On `serverHold` or `clientHold`.
    OnHold,
    /// Updated or transferred recently, on an established domain.
    RecentlyChanged,
    /// The registrant is hidden.
    Privacy,
    /// The name is a WHOIS/RDAP lookup service.
    WhoisRecon,
    /// Expires soon.
    Expiring,
    /// Expired before the event.
    Expired,
    /// In the deletion cycle.
    PendingDelete,
    /// Not registered at all.
    NotRegistered,
}

impl Rule {
    /// Every rule, in output order.
    pub const ALL: [Rule; 9] = [
        Rule::NewlyRegistered,
        Rule::OnHold,
        Rule::RecentlyChanged,
        Rule::Privacy,
        Rule::WhoisRecon,
        Rule::Expiring,
        Rule::Expired,
        Rule::PendingDelete,
        Rule::NotRegistered,
    ];

    /// The name used in output (`domreg.risk.reasons`) and in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::NewlyRegistered => "newly_registered",
            Rule::OnHold => "on_hold",
            Rule::RecentlyChanged => "recently_changed",
            Rule::Privacy => "privacy",
            Rule::WhoisRecon => "whois_recon",
            Rule::Expiring => "expiring",
            Rule::Expired => "expired",
            Rule::PendingDelete => "pending_delete",
            Rule::NotRegistered => "not_registered",
        }
    }

    /// The ATT&CK techniques the rule points to (none for some).
    pub fn techniques(self) -> &'static [Technique] {
        match self {
            Rule::NewlyRegistered | Rule::OnHold => &[attack::ACQUIRE_DOMAINS],
            Rule::RecentlyChanged => &[attack::COMPROMISE_DOMAINS],
            Rule::Privacy => &[attack::HIDE_INFRASTRUCTURE],
            Rule::WhoisRecon => &[attack::DOMAIN_PROPERTIES, attack::SEARCH_WHOIS],
            Rule::Expiring | Rule::Expired | Rule::PendingDelete | Rule::NotRegistered => &[],
        }
    }

    /// One line saying when the rule fires.
    pub fn description(self) -> &'static str {
        match self {
            Rule::NewlyRegistered => {
                "registered fewer than rules.newly_registered.days days before the event"
            }
            Rule::OnHold => "EPP status in rules.on_hold.statuses (serverHold, clientHold)",
            Rule::RecentlyChanged => {
                "updated or transferred within rules.recently_changed.days days, on a domain at least min_age_days old"
            }
            Rule::Privacy => {
                "registrant hidden (RFC 9537 redaction, REDACTED FOR PRIVACY, a privacy service)"
            }
            Rule::WhoisRecon => {
                "the name matches rules.whois_recon.patterns (a WHOIS/RDAP lookup service)"
            }
            Rule::Expiring => "expires within rules.expiring.days days after the event",
            Rule::Expired => "expired before the event",
            Rule::PendingDelete => {
                "EPP status in rules.pending_delete.statuses (pendingDelete, redemptionPeriod)"
            }
            Rule::NotRegistered => "the registry says the domain is not registered",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of rules, in [`Rule::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct RuleSet(u16);

impl RuleSet {
    /// Add a rule.
    pub fn insert(&mut self, rule: Rule) {
        self.0 |= rule.bit();
    }

    /// True when `rule` is in the set.
    pub fn contains(self, rule: Rule) -> bool {
        self.0 & rule.bit() != 0
    }

    /// True when the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rules, in output order.
    pub fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The distinct techniques of the rules, in rule order.
    pub fn techniques(self) -> Vec<&'static Technique> {
        let mut out: Vec<&'static Technique> = Vec::new();
        for rule in self.iter() {
            for t in rule.techniques() {
                if !out.iter().any(|o| o.full_id() == t.full_id()) {
                    out.push(t);
                }
            }
        }
        out
    }
}

/// The score and the rules that fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Risk {
    /// 0 to 100: the sum of the fired rules' weights, capped.
    pub score: u8,
    /// The rules that fired.
    pub rules: RuleSet,
}

/// Day counts of a registration, measured at the event's time. Positive
/// means "before the event" for ages and "after the event" for expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Days {
    /// Whole days from `created` to the event (negative: created after it).
    pub age: Option<i64>,
    /// Whole days from the event to `expires` (negative: already expired).
    pub expires_in: Option<i64>,
    /// Whole days from `updated` to the event.
    pub updated_ago: Option<i64>,
    /// Whole days from `transferred` to the event.
    pub transferred_ago: Option<i64>,
}

impl Days {
    /// Day counts of `reg` at `at`.
    pub fn at(reg: &Registration, at: DateTime<Utc>) -> Days {
        let since =
            |t: Option<DateTime<Utc>>| t.map(|t| whole_days(at.timestamp() - t.timestamp()));
        Days {
            age: since(reg.created),
            expires_in: reg
                .expires
                .map(|t| whole_days(t.timestamp() - at.timestamp())),
            updated_ago: since(reg.updated),
            transferred_ago: since(reg.transferred),
        }
    }
}

impl Days {
    /// The span of event times, in whole seconds since the epoch, over
    /// which [`Days::at`] gives `reg` the same counts as at `at` (both ends
    /// included). Whatever depends only on the counts (the lookup's
    /// classification, the risk rules, the rendered `registration` object)
    /// is therefore the same for every event time in it.
    pub fn same_within(reg: &Registration, at: DateTime<Utc>) -> (i64, i64) {
        let t = at.timestamp();
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        // Counts since a date d: whole_days(t - d) = k for t in
        // [d + k * 86,400, d + (k + 1) * 86,400 - 1].
        for d in [reg.created, reg.updated, reg.transferred]
            .into_iter()
            .flatten()
        {
            let d = d.timestamp();
            let start = d.saturating_add(whole_days(t.saturating_sub(d)).saturating_mul(86_400));
            lo = lo.max(start);
            hi = hi.min(start.saturating_add(86_399));
        }
        // Counts until the expiry e: whole_days(e - t) = k for t in
        // [e - (k + 1) * 86,400 + 1, e - k * 86,400].
        if let Some(e) = reg.expires {
            let e = e.timestamp();
            let end = e.saturating_sub(whole_days(e.saturating_sub(t)).saturating_mul(86_400));
            lo = lo.max(end.saturating_sub(86_399));
            hi = hi.min(end);
        }
        (lo, hi)
    }
}

/// Whole days in a signed number of seconds, rounded toward negative infinity.
fn whole_days(seconds: i64) -> i64 {
    seconds.div_euclid(86_400)
}

/// What the lookup said about the registered domain.
#[derive(Debug, Clone, Copy)]
pub enum Known<'a> {
    /// Registered, with these facts.
    Registered(&'a Registration, Days),
    /// The registry says it is not registered.
    NotRegistered,
    /// Nothing is known (miss, pending, error).
    Unknown,
}

/// Evaluates the configured rules.
#[derive(Debug, Clone)]
pub struct RiskEngine {
    rules: RulesConfig,
    /// `rules.whois_recon.patterns`, each sorted into its form once.
    whois: Vec<Glob>,
}

impl RiskEngine {
    /// An engine for `rules`.
    pub fn new(rules: RulesConfig) -> Self {
        let whois = rules
            .whois_recon
            .patterns
            .iter()
            .map(|p| Glob::new(p))
            .collect();
        RiskEngine { rules, whois }
    }

    /// The rule configuration.
    pub fn rules(&self) -> &RulesConfig {
        &self.rules
    }

    /// Assess one event: `name` is the normalised (A-label) name looked up.
    pub fn assess(&self, name: &str, known: Known<'_>) -> Risk {
        self.assess_with(self.is_whois_service(name), known)
    }

    /// True when `name` matches a `whois_recon` pattern (a fact of the name
    /// alone, which callers may compute once per name).
    pub fn is_whois_service(&self, name: &str) -> bool {
        self.whois.iter().any(|g| g.matches(name.as_bytes()))
    }

    /// [`RiskEngine::assess`] with the name's `whois_recon` match given.
    pub fn assess_with(&self, whois_service: bool, known: Known<'_>) -> Risk {
        let r = &self.rules;
        let mut set = RuleSet::default();
        let mut score: u32 = 0;
        let mut fire = |rule: Rule, enabled: bool, weight: u8, cond: bool| {
            if enabled && cond {
                set.insert(rule);
                score += u32::from(weight);
            }
        };
        match known {
            Known::Registered(reg, days) => {
                let age = days.age;
                fire(
                    Rule::NewlyRegistered,
                    r.newly_registered.enabled,
                    r.newly_registered.weight,
                    age.is_some_and(|a| (0..r.newly_registered.days).contains(&a)),
                );
                fire(
                    Rule::OnHold,
                    r.on_hold.enabled,
                    r.on_hold.weight,
                    r.on_hold.statuses.iter().any(|s| reg.has_status(s)),
                );
                let recent =
                    |d: Option<i64>| d.is_some_and(|d| (0..=r.recently_changed.days).contains(&d));
                fire(
                    Rule::RecentlyChanged,
                    r.recently_changed.enabled,
                    r.recently_changed.weight,
                    age.is_some_and(|a| a >= r.recently_changed.min_age_days)
                        && (recent(days.updated_ago) || recent(days.transferred_ago)),
                );
                fire(
                    Rule::Privacy,
                    r.privacy.enabled,
                    r.privacy.weight,
                    reg.privacy,
                );
                fire(
                    Rule::Expiring,
                    r.expiring.enabled,
                    r.expiring.weight,
                    days.expires_in
                        .is_some_and(|d| (0..r.expiring.days).contains(&d)),
                );
                fire(
                    Rule::Expired,
                    r.expired.enabled,
                    r.expired.weight,
                    days.expires_in.is_some_and(|d| d < 0),
                );
                fire(
                    Rule::PendingDelete,
                    r.pending_delete.enabled,
                    r.pending_delete.weight,
                    r.pending_delete.statuses.iter().any(|s| reg.has_status(s)),
                );
            }
            Known::NotRegistered => fire(
                Rule::NotRegistered,
                r.not_registered.enabled,
                r.not_registered.weight,
                true,
            ),
            Known::Unknown => {}
        }
        fire(
            Rule::WhoisRecon,
            r.whois_recon.enabled,
            r.whois_recon.weight,
            whois_service,
        );
        Risk {
            score: u8::try_from(score.min(100)).unwrap_or(100),
            rules: set,
        }
    }
}

/// Match `name` against `pattern`, where `*` matches any run of bytes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    Glob::new(pattern).matches(name.as_bytes())
}

/// A [`glob_match`] pattern sorted into its form. The forms patterns
/// mostly take are checked directly: no `*` (the whole name), a leading
/// `*` only (`*.example.com`: a suffix) and a trailing `*` only (`rdap.*`:
/// a prefix). The general matcher backtracks, which cost a leading-`*`
/// pattern hundreds of instructions a name.
#[derive(Debug, Clone)]
enum Glob {
    Exact(Box<[u8]>),
    Suffix(Box<[u8]>),
    Prefix(Box<[u8]>),
    General(Box<[u8]>),
}

impl Glob {
    fn new(pattern: &str) -> Glob {
        let p = pattern.as_bytes();
        let stars = p.iter().filter(|&&b| b == b'*').count();
        match p {
            _ if stars == 0 => Glob::Exact(p.into()),
            [b'*', rest @ ..] if stars == 1 => Glob::Suffix(rest.into()),
            [rest @ .., b'*'] if stars == 1 => Glob::Prefix(rest.into()),
            _ => Glob::General(p.into()),
        }
    }

    fn matches(&self, name: &[u8]) -> bool {
        match self {
            Glob::Exact(p) => **p == *name,
            Glob::Suffix(p) => name.ends_with(p),
            Glob::Prefix(p) => name.starts_with(p),
            Glob::General(p) => glob_general(p, name),
        }
    }
}

/// [`glob_match`] for any pattern.
fn glob_general(p: &[u8], n: &[u8]) -> bool {
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(c) if Some(c) == n.get(ni) => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Source;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap()
    }

    proptest::proptest! {
        /// The direct checks of the common pattern forms agree with the
        /// general matcher.
        #[test]
        fn glob_forms_agree_with_the_general_matcher(
            pattern in "[ab.*]{0,6}",
            name in "[ab.]{0,8}",
        ) {
            proptest::prop_assert_eq!(
                glob_match(&pattern, &name),
                glob_general(pattern.as_bytes(), name.as_bytes()),
                "{:?} {:?}", pattern, name
            );
        }

        /// Days::same_within gives the largest span of equal counts: the
        /// counts at both its ends are those at the event time, and one
        /// second beyond either end they differ.
        #[test]
        fn same_within_is_the_span_of_equal_counts(
            dates in proptest::array::uniform4(proptest::option::of(-4_000_000_000i64..4_000_000_000)),
            at in -4_000_000_000i64..4_000_000_000,
        ) {
            let time = |s: i64| Utc.timestamp_opt(s, 0).single();
            let mut reg = Registration::new("example.com", Source::Snapshot);
            let [c, e, u, x] = dates.map(|d| d.and_then(time));
            (reg.created, reg.expires, reg.updated, reg.transferred) = (c, e, u, x);
            let days = Days::at(&reg, time(at).unwrap());
            let (lo, hi) = Days::same_within(&reg, time(at).unwrap());
            proptest::prop_assert!(lo <= at && at <= hi);
            let dated = dates.iter().any(Option::is_some);
            proptest::prop_assert_eq!(dated, lo != i64::MIN && hi != i64::MAX);
            if dated {
                proptest::prop_assert!(hi - lo < 86_400);
                for (inside, outside) in [(lo, lo - 1), (hi, hi + 1)] {
                    proptest::prop_assert_eq!(Days::at(&reg, time(inside).unwrap()), days);
                    proptest::prop_assert_ne!(Days::at(&reg, time(outside).unwrap()), days);
                }
            }
        }
    }

    fn engine() -> RiskEngine {
        RiskEngine::new(RulesConfig::default())
    }

    fn reasons(risk: Risk) -> Vec<&'static str> {
        risk.rules.iter().map(Rule::as_str).collect()
    }

    #[test]
    fn glob() {
        assert!(glob_match("rdap.*", "rdap.verisign.com"));
        assert!(!glob_match("rdap.*", "xrdap.verisign.com"));
        assert!(glob_match("*.whois.com", "www.whois.com"));
        assert!(!glob_match("*.whois.com", "whois.com"));
        assert!(glob_match("lookup.icann.org", "lookup.icann.org"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn newly_registered_and_privacy() {
        let mut reg = Registration::new("new.com", Source::Rdap);
        reg.created = Some(t(2026, 11, 1));
        reg.privacy = true;
        let at = t(2026, 11, 24);
        let risk = engine().assess("www.new.com", Known::Registered(&reg, Days::at(&reg, at)));
        assert_eq!(reasons(risk), ["newly_registered", "privacy"]);
        assert_eq!(risk.score, 65);
        let ids: Vec<_> = risk
            .rules
            .techniques()
            .iter()
            .map(|t| t.full_id())
            .collect();
        assert_eq!(ids, ["T1583.001", "T1665"]);
        // 30 days and older: not new. Registered after the event: not new either.
        let risk = engine().assess(
            "new.com",
            Known::Registered(&reg, Days::at(&reg, t(2026, 12, 1))),
        );
        assert!(!risk.rules.contains(Rule::NewlyRegistered));
        let risk = engine().assess(
            "new.com",
            Known::Registered(&reg, Days::at(&reg, t(2026, 10, 1))),
        );
        assert!(!risk.rules.contains(Rule::NewlyRegistered));
    }

    #[test]
    fn hold_change_expiry_delete() {
        let mut reg = Registration::new("old.com", Source::Rdap);
        reg.created = Some(t(2010, 1, 1));
        reg.updated = Some(t(2026, 11, 20));
        reg.expires = Some(t(2026, 12, 10));
        reg.status = vec!["serverHold".into(), "redemptionPeriod".into()].into();
        let at = t(2026, 11, 24);
        let risk = engine().assess("old.com", Known::Registered(&reg, Days::at(&reg, at)));
        assert_eq!(
            reasons(risk),
            ["on_hold", "recently_changed", "expiring", "pending_delete"]
        );
        assert_eq!(risk.score, 100, "50+30+10+40 capped");
        let ids: Vec<_> = risk
            .rules
            .techniques()
            .iter()
            .map(|t| t.full_id())
            .collect();
        assert_eq!(ids, ["T1583.001", "T1584.001"]);
        let risk = engine().assess(
            "old.com",
            Known::Registered(&reg, Days::at(&reg, t(2027, 1, 1))),
        );
        assert!(risk.rules.contains(Rule::Expired));
        assert!(!risk.rules.contains(Rule::Expiring));
    }

    #[test]
    fn not_registered_and_whois() {
        let risk = engine().assess("nx-example-domreg.com", Known::NotRegistered);
        assert_eq!(reasons(risk), ["not_registered"]);
        assert!(risk.rules.techniques().is_empty());
        let risk = engine().assess("rdap.verisign.com", Known::Unknown);
        assert_eq!(reasons(risk), ["whois_recon"]);
        let ids: Vec<_> = risk
            .rules
            .techniques()
            .iter()
            .map(|t| t.full_id())
            .collect();
        assert_eq!(ids, ["T1590.001", "T1596.002"]);
    }

    #[test]
    fn disabled_rules_do_not_fire() {
        let mut rules = RulesConfig::default();
        rules.not_registered.enabled = false;
        let risk = RiskEngine::new(rules).assess("x.com", Known::NotRegistered);
        assert_eq!(risk, Risk::default());
    }

    #[test]
    fn whole_days_floor() {
        assert_eq!(whole_days(86_399), 0);
        assert_eq!(whole_days(86_400), 1);
        assert_eq!(whole_days(-1), -1);
    }
}
