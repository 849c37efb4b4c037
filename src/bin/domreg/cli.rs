//! Command-line flags. Each flag's long help is the reference; README.md and
//! docs/cli.md repeat it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use domreg::format::Format;

/// Enrich DNS and proxy logs with domain registration data and MITRE ATT&CK fields.
#[derive(Debug, Parser)]
#[command(name = "domreg", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read log lines, add `domreg` and `threat` members, write them out.
    ///
    /// Every input line gives exactly one output line, in input order. JSON
    /// events keep their original bytes, with the new members added before
    /// the closing brace; text events become {"message": "<line>", ...}.
    /// Lines that cannot be enriched are written back unchanged and counted.
    Enrich(EnrichArgs),
    /// Print the ATT&CK techniques domreg can tag, with the rule behind each.
    Attack {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Convert saved RDAP domain responses to registration records (JSON Lines).
    ///
    /// Each FILE holds one RDAP response body. Files for the same domain are
    /// merged in the order given: put the registry's answer first and the
    /// registrar's after it. The output is the --registrations format.
    Rdap {
        /// RDAP response files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Record this RDAP base URL as the records' `server`.
        #[arg(long)]
        server: Option<String>,
        /// Record this time (RFC 3339) as the records' `fetched`.
        #[arg(long)]
        fetched: Option<String>,
    },
    /// Print the default configuration (TOML) to start a --config file from.
    Config,
}

#[derive(Debug, Args)]
pub struct EnrichArgs {
    /// Input files; stdin when none is given or for `-`.
    pub files: Vec<PathBuf>,

    /// Write to this file instead of stdout (replaced if it exists).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,

    /// Read only this format instead of detecting it per line.
    ///
    /// JSON: zeek, suricata, sysmon, ecs, route53, json (only the --field
    /// paths). Text: squid, bind, dnsmasq, coredns. Lines of other formats
    /// pass through unchanged.
    #[arg(long, value_name = "FMT", value_parser = parse_format)]
    pub format: Option<Format>,

    /// A JSON field path holding a domain name (repeatable), tried before
    /// the built-in fields. Dotted paths reach into objects (`a.b.c`) and
    /// also match literal keys that contain dots (`id.orig_h`); the segment
    /// `[]` steps into the first element of an array (`dns.queries.[].rrname`).
    #[arg(long = "field", value_name = "PATH")]
    pub fields: Vec<String>,

    /// Registration records to enrich from (JSON Lines, see
    /// docs/registrations.md), e.g. the output of `domreg rdap` or a saved
    /// cache. Repeatable; later files win for the same domain.
    #[arg(long, value_name = "FILE")]
    pub registrations: Vec<PathBuf>,

    /// Configuration file (TOML): rule thresholds and weights, input
    /// options. `domreg config` prints the defaults; see docs/config.md.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Lines longer than this many bytes pass through unchanged
    /// (overrides `input.max_line_bytes`; default 1 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<usize>,

    /// The time (RFC 3339) to measure ages at for events whose format
    /// carries no timestamp; default: the time each line is processed.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,

    /// Do not print the summary (or the progress bar) on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn enrich_flags() {
        let cli = Cli::try_parse_from([
            "domreg",
            "enrich",
            "a.log",
            "-",
            "-o",
            "out",
            "--format",
            "zeek",
            "--field",
            "a.b",
            "--field",
            "c",
            "--registrations",
            "r.jsonl",
            "--quiet",
        ])
        .unwrap();
        let Command::Enrich(a) = cli.command else {
            panic!()
        };
        assert_eq!(a.files.len(), 2);
        assert_eq!(a.format, Some(Format::Zeek));
        assert_eq!(a.fields, ["a.b", "c"]);
        assert!(a.quiet);
        assert!(Cli::try_parse_from(["domreg", "enrich", "--format", "nope"]).is_err());
    }
}
