//! The `convograph` binary: `serve` (default), `sdl`, `sandbox`, `healthcheck`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use convograph::{
    config::{SandboxConfig, Settings},
    sandbox::{LiveCalls, Sandbox, SandboxSettings},
    startup::{Application, shutdown_signal},
};

/// One GraphQL graph over Gong, ExecVision, Salesloft and Hubster.
#[derive(Debug, Parser)]
#[command(name = "convograph", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the graph (the default). Without a config file: the sandbox.
    Serve(ServeArgs),
    /// Print the subgraph SDL (identical to schema.graphql).
    Sdl,
    /// Run only the provider simulators and print their base URLs and credentials.
    Sandbox,
    /// Probe a running server's `/healthz` (exit 0 when it answers 200): the container
    /// healthcheck, for images without a shell or curl.
    Healthcheck {
        /// URL to probe; by default `/healthz` on the port of `CONVOGRAPH_LISTEN` (4000).
        #[arg(long)]
        url: Option<String>,
    },
    /// Make a new client API key and print it with the SHA-256 that goes in
    /// `auth.api_keys[].sha256` (the config holds only the hash).
    ApiKey,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Config file (YAML, or TOML by extension).
    #[arg(long, env = "CONVOGRAPH_CONFIG")]
    config: Option<PathBuf>,
    /// Listen address (overrides server.listen).
    #[arg(long, env = "CONVOGRAPH_LISTEN")]
    listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sdl) => {
            print!("{}", convograph::schema::sdl());
            ExitCode::SUCCESS
        }
        Some(Command::Sandbox) => run_sandbox().await,
        Some(Command::Healthcheck { url }) => healthcheck(url).await,
        Some(Command::ApiKey) => {
            let (key, hash) = convograph::auth::generate_api_key();
            println!("key:    {key}\nsha256: {hash}");
            ExitCode::SUCCESS
        }
        Some(Command::Serve(args)) => serve(args).await,
        None => serve(cli.serve).await,
    }
}

async fn serve(args: ServeArgs) -> ExitCode {
    let mut settings = match Settings::load(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convograph: {e}");
            return ExitCode::from(2);
        }
    };
    let telemetry = match convograph::telemetry::init_with(&settings.telemetry.otlp) {
        Ok(guard) => guard,
        Err(e) => {
            eprintln!("convograph: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(listen) = args.listen {
        settings.server.listen = listen;
    }
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(e) => {
            eprintln!("convograph: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = app.local_addr();
    if app.sandbox().is_some() {
        tracing::warn!("Sandbox mode: simulated providers and synthetic data.");
    }
    if app.is_open() {
        tracing::warn!("Running open: no client authentication; every caller reads every connection.");
    }
    tracing::info!(%addr, "convograph listening; GraphiQL at http://{addr}/graphql");
    let result = app.run_until_stopped(shutdown_signal()).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("convograph: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_sandbox() -> ExitCode {
    convograph::telemetry::init();
    let cfg = SandboxConfig::embedded();
    let live = LiveCalls::from_now(cfg.live_every, cfg.live_calls);
    let sandbox = match Sandbox::start(SandboxSettings { live: Some(live), ..SandboxSettings::default() }).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("convograph: sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "gong\t{}\tbasic {}:{}",
        sandbox.gong.base_url(),
        sandbox.gong.access_key(),
        sandbox.gong.access_key_secret()
    );
    println!(
        "execvision\t{}\tbasic {}:{}",
        sandbox.execvision.base_url(),
        sandbox.execvision.user_id(),
        sandbox.execvision.password()
    );
    println!("salesloft\t{}\tbearer {}", sandbox.salesloft.base_url(), sandbox.salesloft.token());
    println!(
        "hubster\t{}\tclient_credentials {}:{} via {}",
        sandbox.hubster.engine_url(),
        sandbox.hubster.client_id(),
        sandbox.hubster.client_secret(),
        sandbox.hubster.token_url()
    );
    shutdown_signal().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

async fn healthcheck(url: Option<String>) -> ExitCode {
    let url = url.unwrap_or_else(|| {
        let port = std::env::var("CONVOGRAPH_LISTEN")
            .ok()
            .and_then(|l| l.parse::<SocketAddr>().ok())
            .map_or(4000, |a| a.port());
        format!("http://127.0.0.1:{port}/healthz")
    });
    let client = match reqwest::Client::builder().timeout(std::time::Duration::from_secs(3)).build() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("convograph: healthcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(resp) if resp.status().is_success() => ExitCode::SUCCESS,
        Ok(resp) => {
            eprintln!("convograph: healthcheck: {url} answered {}", resp.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("convograph: healthcheck: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
