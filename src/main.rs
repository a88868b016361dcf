//! The `zhibao` command: parses arguments and calls the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use zhibao::model::Month;

// mimalloc returns memory to the system sooner than glibc's allocator does under
// Polars' many threads, which keeps the peak resident size of large audits down.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e`, mimalloc.h of
/// mimalloc 3, the version libmimalloc-sys builds by default).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
// A mimalloc whose options are numbered otherwise fails the build here.
const _: () = assert!(libmimalloc_sys::_mi_option_last == 47);

/// For a command that runs and ends (an audit): freed memory is kept for the
/// next allocation instead of being given back to the system. Given back, it
/// comes back as fresh pages the kernel must zero: a tenth of a 200,000-enterprise
/// audit's time went to that (docs/performance.md). The peak resident size
/// grows a little. `MIMALLOC_PURGE_DELAY`, when set, decides instead.
fn keep_freed_memory() {
    // `MIMALLOC_RESET_DELAY` is the option's former name, still read.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none()
        && std::env::var_os("MIMALLOC_RESET_DELAY").is_none()
    {
        // SAFETY: sets one of mimalloc's options, which it reads atomically.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
    }
}

/// zhibao (直报) — audits statistical direct-reporting submissions: cross-checks,
/// red/yellow/green risk grades, a ranked query list and county scorecards.
#[derive(Parser)]
#[command(name = "zhibao", version, about, long_about = None, arg_required_else_help = true)]
struct Cli {
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Parquet,
    Csv,
}

#[derive(Clone, Copy, ValueEnum)]
enum SideArg {
    Both,
    Left,
    Right,
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a user; prints the new token, alone on one line (only its hash is kept).
    Add {
        /// The user's name.
        name: String,
        /// The users file (created when absent).
        #[arg(long)]
        users: PathBuf,
        /// `city` (every county) or `county` (one county).
        #[arg(long)]
        role: String,
        /// The county of a county user (6-digit code).
        #[arg(long)]
        county: Option<String>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Audit a data directory: findings, grades, query list, scorecard.
    Audit(AuditArgs),
    /// Write a synthetic batch with planted anomalies (labels beside it).
    Generate(GenerateArgs),
    /// Generate a small batch, audit it and print the summary.
    Demo(DemoArgs),
    /// Audit submissions as they arrive: HTTP API and web page (docs/serve.md).
    Serve {
        /// The history, as for `zhibao audit` (may be left out once the state holds it).
        #[arg(long)]
        data: Option<PathBuf>,
        /// Where the service keeps everything (SQLite), created on first start.
        #[arg(long)]
        state: PathBuf,
        /// The users file (`zhibao user add`).
        #[arg(long)]
        users: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// Pipeline file (default: the built-in pipeline).
        #[arg(long)]
        pipeline: Option<PathBuf>,
        /// Period under review, YYYY-MM (default: the latest month of industrial).
        #[arg(long, value_parser = parse_month)]
        period: Option<Month>,
        /// Seed of the query list's random sampling (default: drawn once and kept).
        #[arg(long)]
        seed: Option<u64>,
    },
    /// One background refresh of `zhibao serve` (run by the server itself).
    #[command(hide = true)]
    ServeRefresh {
        #[arg(long)]
        state: PathBuf,
        #[arg(long)]
        export: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        pipeline: Option<PathBuf>,
        #[arg(long, value_parser = parse_month)]
        period: Option<Month>,
        #[arg(long)]
        seed: u64,
    },
    /// Users of `zhibao serve`.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Write a `zhibao serve` state as a contract data directory.
    Export {
        /// The state directory of `zhibao serve`.
        #[arg(long)]
        state: PathBuf,
        /// The data directory to write (new or empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// List the rules, or explain one (`zhibao rules TX001`).
    Rules {
        /// A rule code.
        code: Option<String>,
        /// Print the docs page (Markdown) of all rules.
        #[arg(long)]
        markdown: bool,
    },
    /// Check a pipeline file and report every problem at once.
    CheckPipeline {
        /// The pipeline file.
        file: PathBuf,
    },
    /// Banff's OUTLIER (Hidiroglou–Berthelot) on any table.
    Outlier(OutlierArgs),
}

/// The arguments of `zhibao audit`.
#[derive(Args)]
struct AuditArgs {
    /// Data directory (one table per file or directory, see docs/data-contract.md).
    #[arg(long)]
    data: PathBuf,
    /// Output directory (replaced as a whole by each run).
    #[arg(long)]
    out: PathBuf,
    /// Period under review, YYYY-MM (default: the latest month of industrial).
    #[arg(long, value_parser = parse_month)]
    period: Option<Month>,
    /// Pipeline file (default: the built-in pipeline).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// Seed of the random sampling (default: drawn and recorded in summary.json).
    #[arg(long)]
    seed: Option<u64>,
    /// Last month's grades.parquet (default: the state is rebuilt from the data).
    #[arg(long)]
    previous_grades: Option<PathBuf>,
    /// Query-list lines per county before random sampling.
    #[arg(long)]
    capacity: Option<usize>,
    /// Replace --out even if zhibao did not write it.
    #[arg(long)]
    force: bool,
}

/// The arguments of `zhibao generate`.
#[derive(Args)]
struct GenerateArgs {
    /// Data directory to create.
    #[arg(long)]
    out: PathBuf,
    /// Number of industrial enterprises.
    #[arg(long, default_value_t = 3000)]
    enterprises: usize,
    /// Months of history, the last included.
    #[arg(long, default_value_t = 24)]
    months: usize,
    /// Seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Last month, YYYY-MM.
    #[arg(long, value_parser = parse_month, default_value = "2026-10")]
    end: Month,
    /// Share of enterprises with a planted anomaly.
    #[arg(long, default_value_t = 0.03)]
    anomaly_rate: f64,
    /// File format.
    #[arg(long, value_enum, default_value_t = Format::Parquet)]
    format: Format,
    /// Leave out the labour, energy and services tables.
    #[arg(long)]
    core_only: bool,
}

/// The arguments of `zhibao demo`.
#[derive(Args)]
struct DemoArgs {
    /// Output directory of the audit.
    #[arg(long, default_value = "zhibao-demo-output")]
    out: PathBuf,
    /// Number of enterprises.
    #[arg(long, default_value_t = 3000)]
    enterprises: usize,
    /// Seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Then serve the demo data live (`zhibao serve`), with a city and a county
    /// user whose tokens are printed.
    #[arg(long)]
    serve: bool,
    /// Address to listen on with --serve.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
}

/// The arguments of `zhibao outlier`.
#[derive(Args)]
struct OutlierArgs {
    /// Input table, CSV or Parquet.
    #[arg(long)]
    input: PathBuf,
    /// Unit identifier column.
    #[arg(long)]
    id: String,
    /// Variable tested.
    #[arg(long)]
    var: String,
    /// Comparison variable: a column of --input (RATIO) or of --hist (HISTORIC).
    #[arg(long)]
    with_var: Option<String>,
    /// Historical table paired on --id (HISTORIC method).
    #[arg(long)]
    hist: Option<PathBuf>,
    /// By-group column.
    #[arg(long)]
    by: Option<String>,
    /// U in [0, 1].
    #[arg(long, default_value_t = 0.0)]
    exponent: f64,
    /// Minimum distance multiplier A.
    #[arg(long, default_value_t = 0.05)]
    mdm: f64,
    /// Multiplier of the imputation interval (FTI).
    #[arg(long)]
    mii: Option<f64>,
    /// Multiplier of the exclusion interval (FTE).
    #[arg(long)]
    mei: Option<f64>,
    /// Smallest by-group processed.
    #[arg(long, default_value_t = 10)]
    min_obs: usize,
    /// Accept zero values (CURRENT method only, as in Banff).
    #[arg(long)]
    accept_zero: bool,
    /// Accept negative values (CURRENT method only, as in Banff).
    #[arg(long)]
    accept_negative: bool,
    /// Tail(s) searched.
    #[arg(long, value_enum, default_value_t = SideArg::Both)]
    side: SideArg,
    /// Flagged units (CSV).
    #[arg(long)]
    out: PathBuf,
    /// Per-group summary (CSV); printed when absent.
    #[arg(long)]
    summary: Option<PathBuf>,
}

/// A spinner with the current stage on stderr, when stderr is a terminal.
fn spinner(quiet: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(pb)
}

/// `zhibao demo --serve`: the demo data served live, with two users.
fn serve_demo(
    data: &std::path::Path,
    out: &std::path::Path,
    listen: std::net::SocketAddr,
    seed: u64,
) -> anyhow::Result<()> {
    let dir = out.with_file_name(format!(
        "{}-serve",
        out.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("zhibao-demo")
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(&dir)?;
    let users = dir.join("users.toml");
    let county = first_county(data)?;
    let city_token = zhibao::serve::users::add(&users, "city-demo", "city", None)?;
    let county_token = zhibao::serve::users::add(&users, "county-demo", "county", Some(&county))?;
    let opts = zhibao::serve::ServeOptions {
        data: Some(data.to_path_buf()),
        state: dir.join("state"),
        users,
        listen,
        pipeline: None,
        period: None,
        seed: Some(seed),
        refresh_exe: std::env::current_exe().ok(),
    };
    println!(
        "\nStarting the live audit on the demo data (state in {})…",
        dir.display()
    );
    zhibao::serve::serve(&opts, |addr| {
        println!("Serving on http://{addr}/ (Ctrl-C stops it)");
        println!("  city user token:            {city_token}");
        println!("  county user token ({county}): {county_token}");
        println!(
            "  e.g. curl -H 'Authorization: Bearer {city_token}' http://{addr}/api/v1/progress"
        );
    })?;
    Ok(())
}

/// The first county of a data directory's register.
fn first_county(data: &std::path::Path) -> anyhow::Result<String> {
    let batch = zhibao::load::load(data, &Default::default())?;
    let c = batch
        .enterprises
        .column("county_code")?
        .str()?
        .iter()
        .flatten()
        .min()
        .map(str::to_string)
        .ok_or_else(|| anyhow::anyhow!("the demo register is empty"))?;
    Ok(c)
}

fn parse_month(s: &str) -> Result<Month, String> {
    Month::parse_lenient(s).map(|(m, _)| m)
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Audit(args) => {
            keep_freed_memory();
            audit(args, cli.quiet)?
        }
        Command::Generate(args) => {
            keep_freed_memory();
            generate(args, cli.quiet)?
        }
        Command::Serve {
            data,
            state,
            users,
            listen,
            pipeline,
            period,
            seed,
        } => {
            let opts = zhibao::serve::ServeOptions {
                data,
                state,
                users,
                listen,
                pipeline,
                period,
                seed,
                refresh_exe: std::env::current_exe().ok(),
            };
            zhibao::serve::serve(&opts, |addr| {
                eprintln!("zhibao serve: listening on http://{addr}");
            })?;
        }
        Command::ServeRefresh {
            state,
            export,
            out,
            pipeline,
            period,
            seed,
        } => {
            zhibao::serve::yield_to_the_server();
            zhibao::serve::refresh(
                &state,
                &export,
                &out,
                pipeline.as_deref(),
                period,
                seed,
                true,
            )?;
        }
        Command::User {
            action:
                UserAction::Add {
                    name,
                    users,
                    role,
                    county,
                },
        } => {
            let token = zhibao::serve::users::add(&users, &name, &role, county.as_deref())?;
            println!("{token}");
        }
        Command::Export { state, out } => {
            zhibao::serve::export(&state, &out)?;
            if !cli.quiet {
                eprintln!("zhibao export: the state is in {}", out.display());
            }
        }
        Command::Demo(args) => {
            // Serving runs on: memory freed is given back then.
            if !args.serve {
                keep_freed_memory();
            }
            demo(args)?
        }
        Command::Rules { code, markdown } => {
            if markdown {
                print!("{}", zhibao::rules::docs::markdown());
            } else if let Some(c) = code {
                let c = c.to_ascii_uppercase();
                let def = zhibao::rules::registry::get(&c).ok_or_else(|| {
                    zhibao::Error::Usage(format!(
                        "no rule has the code '{c}'; `zhibao rules` lists them"
                    ))
                })?;
                print!("{}", zhibao::rules::docs::explain(def));
            } else {
                print!("{}", zhibao::rules::docs::list());
            }
        }
        Command::CheckPipeline { file } => {
            let p = zhibao::pipeline::Pipeline::load(&file).map_err(zhibao::Error::from)?;
            println!(
                "{}: OK — pipeline '{}' runs {} rules.",
                file.display(),
                p.name,
                p.rules.len()
            );
        }
        Command::Outlier(args) => {
            keep_freed_memory();
            outlier(args, cli.quiet)?
        }
    }
    Ok(())
}

/// `zhibao audit`.
fn audit(args: AuditArgs, quiet: bool) -> anyhow::Result<()> {
    let progress = spinner(quiet);
    let opts = zhibao::audit::AuditOptions {
        data: args.data,
        out: args.out,
        period: args.period,
        pipeline: args.pipeline,
        seed: args.seed,
        previous_grades: args.previous_grades,
        capacity: args.capacity,
        force: args.force,
        progress: progress.clone(),
    };
    let r = zhibao::audit::run(&opts).with_context(|| format!("auditing {}", opts.data.display()));
    if let Some(pb) = progress {
        pb.finish_and_clear();
    }
    let r = r?;
    if !quiet {
        print!("{}", zhibao::terminal::summary(&r, 10));
    }
    Ok(())
}

/// `zhibao generate`.
fn generate(args: GenerateArgs, quiet: bool) -> anyhow::Result<()> {
    let out = args.out;
    let mut g = zhibao::generate::GenOptions::new(&out, args.enterprises);
    g.months = args.months;
    g.seed = args.seed;
    g.end = args.end;
    g.anomaly_rate = args.anomaly_rate;
    g.other_families = !args.core_only;
    g.format = match args.format {
        Format::Parquet => zhibao::generate::OutFormat::Parquet,
        Format::Csv => zhibao::generate::OutFormat::Csv,
    };
    let r = zhibao::generate::generate(&g)
        .with_context(|| format!("generating into {}", out.display()))?;
    if !quiet {
        println!(
            "Generated {} counties into {}:",
            r.counties,
            r.out.display()
        );
        for (t, n) in &r.rows {
            println!("  {t:<14} {n:>12} rows");
        }
        println!(
            "{} planted anomalies listed in {}",
            r.planted,
            r.labels.display()
        );
    }
    Ok(())
}

/// `zhibao demo`.
fn demo(args: DemoArgs) -> anyhow::Result<()> {
    let DemoArgs {
        out,
        enterprises,
        seed,
        serve,
        listen,
    } = args;
    let d = zhibao::demo::run(&out, enterprises, seed).context("running the demo")?;
    println!(
        "Demo: {} enterprises in {} counties generated into {} ({} planted anomalies, labels in {}).\n",
        enterprises,
        d.generated.counties,
        d.generated.out.display(),
        d.generated.planted,
        d.generated.labels.display()
    );
    print!("{}", zhibao::terminal::summary(&d.audit, 10));
    println!(
        "\nOpen {}/scorecard.html in a browser, or query_list.xlsx in Excel.",
        out.display()
    );
    if serve {
        serve_demo(&d.generated.out, &out, listen, seed)?;
    }
    Ok(())
}

/// `zhibao outlier`.
fn outlier(args: OutlierArgs, quiet: bool) -> anyhow::Result<()> {
    let params = zhibao::detect::hb::Params {
        exponent: args.exponent,
        mdm: args.mdm,
        mii: args.mii,
        mei: args.mei,
        min_obs: args.min_obs,
        accept_zero: args.accept_zero.then_some(true),
        accept_negative: args.accept_negative,
        side: match args.side {
            SideArg::Both => zhibao::detect::hb::Side::Both,
            SideArg::Left => zhibao::detect::hb::Side::Left,
            SideArg::Right => zhibao::detect::hb::Side::Right,
        },
    };
    let by_name = args.by.clone().unwrap_or_else(|| "by_group".into());
    let summary = args.summary;
    let o = zhibao::outlier::OutlierOptions {
        input: args.input,
        id: args.id,
        var: args.var,
        with_var: args.with_var,
        hist: args.hist,
        by: args.by,
        params,
        out: args.out,
        summary: summary.clone(),
    };
    let r = zhibao::outlier::run(&o)
        .with_context(|| format!("outlier detection on {}", o.input.display()))?;
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if summary.is_none() && !quiet {
        print!("{}", zhibao::outlier::summary_text(&r.groups, &by_name));
    }
    if !quiet {
        println!(
            "{} unit(s) flagged; written to {}",
            r.flagged,
            o.out.display()
        );
    }
    Ok(())
}

/// Writing to a pipe whose reader has gone (`zhibao rules | head`) ends the program
/// quietly, as it does for other command-line tools, instead of a panic in
/// `println!`: the default action of SIGPIPE is restored (Rust ignores it).
fn end_quietly_on_closed_pipes() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; it only
    // sets the disposition of one signal to the system default.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    end_quietly_on_closed_pipes();
    let cli = Cli::parse();
    let level = if cli.quiet { "error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // A cause whose text is already said (an error that displays its source)
            // is not repeated.
            let mut said = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                said = text;
            }
            ExitCode::from(2)
        }
    }
}
