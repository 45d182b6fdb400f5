//! The `convograph` binary: `serve` (default), `sdl`, `sandbox`.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use convograph::{
    config::Settings,
    sandbox::{Sandbox, SandboxSettings},
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
    let sandbox = match Sandbox::start(SandboxSettings::default()).await {
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
    shutdown_signal().await;
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
