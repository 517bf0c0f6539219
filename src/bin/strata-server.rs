//! strata-server: run Strata. Arguments follow redis-server: an optional config file,
//! then `--name value` options that override it.

use clap::Parser;
/// jemalloc (as Redis), counted so INFO used_memory is what is really allocated, as
/// Redis's zmalloc counts it (`strata::util::CountingAlloc`).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: strata::util::CountingAlloc<tikv_jemallocator::Jemalloc> =
    strata::util::CountingAlloc(tikv_jemallocator::Jemalloc);
/// Without jemalloc: the system allocator, counted the same way.
#[cfg(not(feature = "jemalloc"))]
#[global_allocator]
static GLOBAL: strata::util::CountingAlloc<std::alloc::System> =
    strata::util::CountingAlloc(std::alloc::System);

#[derive(Parser, Debug)]
#[command(
    name = "strata-server",
    version,
    about = "A Redis-compatible server with a durable, verifiable append-only log",
    after_help = format!(
        "Usage like redis-server: strata-server [CONFIG_FILE] [--name value ...]\n\nOptions:\n{}",
        strata::config::Config::help_text()
    )
)]
struct Cli {
    /// Optional redis.conf-style file, then `--name value` overrides.
    #[arg(allow_hyphen_values = true, trailing_var_arg = true)]
    args: Vec<String>,
}

fn main() {
    let cli = Cli::parse();
    let config = match strata::config::Config::from_args(&cli.args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("strata-server: {e}");
            std::process::exit(2);
        }
    };
    init_logging(&config);
    let to_file = !config.logfile.is_empty();
    if let Err(e) = strata::server::run(config) {
        tracing::error!("{e}");
        if to_file {
            eprintln!("strata-server: {e}");
        }
        std::process::exit(1);
    }
}

fn init_logging(config: &strata::config::Config) {
    let level = match config.loglevel.as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "warning" => "warn",
        "nothing" => "error",
        _ => "info",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if config.logfile.is_empty() {
        builder.init();
    } else {
        match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)
        {
            Ok(f) => builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(f))
                .init(),
            Err(e) => {
                eprintln!("strata-server: cannot open logfile {}: {e}", config.logfile);
                std::process::exit(1);
            }
        }
    }
}
