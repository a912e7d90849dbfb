//! What `deploy/` and the `Dockerfile` promise, checked offline: the Kubernetes manifests validate
//! against the Kubernetes schemas (kubernetes-validate, strict), hang together (shards, ConfigMap keys,
//! Service and pod labels) and their Job's arguments run as shards whose logs merge; the Grafana
//! dashboard is a dashboard model (Grafana's own TypeScript types) whose queries parse (promtool), name
//! metrics the exporter writes and add up the shards; the image builds as CI does.
//!
//! `scripts/test.sh` installs the tools: a Python venv with kubernetes-validate under `target/tools/`,
//! TypeScript and @grafana/schema in `tests/grafana/node_modules/` (from its lockfile), and Debian's
//! prometheus package for promtool.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(relative: &str) -> PathBuf {
    let path = repo().join(relative);
    assert!(path.exists(), "{} is missing: scripts/test.sh installs it", path.display());
    path
}

fn output(command: &mut Command) -> (bool, String) {
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// The YAML documents of `file`, read by the venv's PyYAML (kubernetes-validate's own parser).
fn yaml(file: &Path) -> serde_json::Value {
    let python = tool("target/tools/venv/bin/python");
    let script = "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))";
    let (ok, text) = output(Command::new(python).args(["-c", script]).arg(file));
    assert!(ok, "{text}");
    let docs: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(docs.as_array().map(Vec::len), Some(1), "{}: one object per file", file.display());
    docs[0].clone()
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/kubernetes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hls-swarm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schemas_and_a_broken_one_does_not() {
    let validate = tool("target/tools/venv/bin/kubernetes-validate");
    let files = manifests();
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["configmap.yaml", "job.yaml", "service.yaml"]);
    // The newest Kubernetes the package knows, and an older one clusters still run.
    for version in ["1.37.0", "1.30.0"] {
        let (ok, text) = output(Command::new(&validate).args(["--strict", "-k", version]).args(&files));
        assert!(ok, "Kubernetes {version}: {text}");
        assert_eq!(text.matches(" passed for resource ").count(), 3, "{text}");
    }
    // The check can fail: a misspelt field and a wrong type in a copy of the Job.
    let dir = scratch("deploy-broken");
    let job = std::fs::read_to_string(repo().join("deploy/kubernetes/job.yaml")).unwrap();
    for (from, to, says) in [
        ("completionMode: Indexed", "completionMod: Indexed", "'completionMod' was unexpected"),
        ("backoffLimitPerIndex: 0", "backoffLimitPerIndex: none", "is not of type 'integer'"),
    ] {
        assert!(job.contains(from));
        let broken = dir.join("job.yaml");
        std::fs::write(&broken, job.replace(from, to)).unwrap();
        let (ok, text) = output(Command::new(&validate).arg("--strict").arg(&broken));
        assert!(!ok && text.contains(says), "{to}: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_job_config_map_and_service_hang_together() {
    let dir = repo().join("deploy/kubernetes");
    let (config, job, service) =
        (yaml(&dir.join("configmap.yaml")), yaml(&dir.join("job.yaml")), yaml(&dir.join("service.yaml")));
    let spec = &job["spec"];
    let shards: u64 = config["data"]["HLS_SWARM_SHARDS"].as_str().unwrap().parse().unwrap();
    assert_eq!(spec["completionMode"], "Indexed");
    assert_eq!((spec["completions"].as_u64(), spec["parallelism"].as_u64()), (Some(shards), Some(shards)));
    // One failed shard neither runs again nor ends the others.
    assert_eq!((spec["backoffLimitPerIndex"].as_u64(), spec["maxFailedIndexes"].as_u64()), (Some(0), Some(shards)));
    assert!(spec.get("backoffLimit").is_none(), "backoffLimit would end every shard at the first failure");
    assert!(spec["activeDeadlineSeconds"].as_u64().is_some());
    let pod = &spec["template"];
    assert_eq!(pod["spec"]["restartPolicy"], "Never");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["envFrom"][0]["configMapRef"]["name"], config["metadata"]["name"]);
    // Every $(NAME) in the arguments is a key of the ConfigMap (Kubernetes leaves an unknown one as is).
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    for arg in &args {
        if let Some((_, rest)) = arg.split_once("$(") {
            let name = rest.split_once(')').unwrap().0;
            assert!(config["data"].get(name).is_some(), "{arg}: {name} is not in the ConfigMap");
        }
    }
    assert!(args.contains(&"--metrics-addr=0.0.0.0:17091") && args.contains(&"--report=-"), "{args:?}");
    // Prometheus finds every pod: by annotation, and through the headless Service by label and port name.
    assert_eq!(pod["metadata"]["annotations"]["prometheus.io/port"], "17091");
    assert_eq!(service["spec"]["clusterIP"], "None");
    for (label, value) in service["spec"]["selector"].as_object().unwrap() {
        assert_eq!(&pod["metadata"]["labels"][label], value, "the Service selects the shard pods");
    }
    assert_eq!(service["spec"]["ports"][0]["targetPort"], container["ports"][0]["name"]);
    assert_eq!(pod["spec"]["subdomain"], service["metadata"]["name"]);
    let apart = &pod["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(apart["topologyKey"], "kubernetes.io/hostname", "one pod per node, as a rule");
    assert_eq!(apart["labelSelector"]["matchLabels"], pod["metadata"]["labels"]);
    let spread = &pod["spec"]["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(spread["labelSelector"]["matchLabels"], pod["metadata"]["labels"]);
}

/// The Job's arguments, the ConfigMap's values put in as Kubernetes does; the target, size and start
/// made local and the metrics port a free one (the Job's fixed port is checked above).
fn job_args(target: &str) -> Vec<String> {
    let dir = repo().join("deploy/kubernetes");
    let (config, job) = (yaml(&dir.join("configmap.yaml")), yaml(&dir.join("job.yaml")));
    let mut values = config["data"].as_object().unwrap().clone();
    for (key, value) in [("TARGET_URL", target), ("CLIENTS", "6"), ("RAMP_RATE", "6"), ("DURATION", "2s")] {
        values.insert(key.into(), value.into());
    }
    values.insert("START_AT".into(), "+1s".into());
    let args = job["spec"]["template"]["spec"]["containers"][0]["args"].as_array().unwrap().clone();
    args.iter()
        .map(|a| {
            let mut arg = a.as_str().unwrap().to_owned();
            for (key, value) in &values {
                arg = arg.replace(&format!("$({key})"), value.as_str().unwrap());
            }
            arg.replace("--metrics-addr=0.0.0.0:17091", "--metrics-addr=127.0.0.1:0")
        })
        .collect()
}

#[test]
fn the_jobs_arguments_run_as_shards_whose_logs_merge() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let config = hls_swarm::origin::OriginConfig {
        segment_duration: std::time::Duration::from_millis(500),
        ..hls_swarm::origin::OriginConfig::local_default()
    };
    let origin = rt.block_on(hls_swarm::origin::spawn(config)).unwrap();
    let args = job_args(&format!("{}master.m3u8", origin.url()));
    // Two pods of the Indexed Job (HLS_SWARM_SHARDS from the ConfigMap set to 2 here), side by side.
    let pods: Vec<_> = (0..2)
        .map(|index| {
            Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
                .args(&args)
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .env("HLS_SWARM_SHARDS", "2")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut logs = String::new();
    for (index, pod) in pods.into_iter().enumerate() {
        let out = pod.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
        for line in text.lines() {
            logs.push_str(&format!("[pod/hls-swarm-{index}-x/hls-swarm] {line}\n"));
        }
    }
    let dir = scratch("deploy-merge");
    let all = dir.join("all.json");
    let mut merge = Command::new(env!("CARGO_BIN_EXE_hls-swarm"))
        .args(["report", "merge", "-", "-o"])
        .arg(&all)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut merge.stdin.take().unwrap(), logs.as_bytes()).unwrap();
    let out = merge.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&all).unwrap()).unwrap();
    assert_eq!(merged["shards"]["present"], serde_json::json!([0, 1]));
    assert_eq!(merged["clients"]["target"], 6);
    let segments = hls_swarm::origin::ServedKind::Segment;
    assert_eq!(merged["requests"]["segment"]["count"].as_u64(), Some(origin.counters().requests_all(segments)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_image_builds_as_ci_does() {
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    let tests = std::fs::read_to_string(repo().join("scripts/test.sh")).unwrap();
    let build = "cargo build --release --locked";
    assert!(dockerfile.contains(&format!("RUN {build}")), "the image's build");
    assert!(tests.lines().any(|l| l.trim() == build), "scripts/test.sh runs the image's build");
    // The build stage's toolchain is the one CI has.
    let (ok, rustc) = output(Command::new("rustc").arg("--version"));
    assert!(ok, "{rustc}");
    let version: Vec<&str> = rustc.split_whitespace().nth(1).unwrap().split('.').take(2).collect();
    let image = format!("FROM rust:{}-bookworm AS build", version.join("."));
    assert!(dockerfile.contains(&image), "the Dockerfile builds with {image} (this machine's rustc: {rustc})");
    // Nothing the build needs is left out of the context.
    let ignored = std::fs::read_to_string(repo().join(".dockerignore")).unwrap();
    for needed in ["src", "Cargo.toml", "Cargo.lock", "schema"] {
        assert!(!ignored.lines().any(|l| l.trim() == needed), "{needed} is ignored");
    }
}

/// The families the exporter writes, by name (`# TYPE` lines), for a run on a two-rung ladder.
fn exported_families() -> Vec<String> {
    use hls_swarm::live::{RunInfo, Rung};
    let rung = |index: u16, label: &str| Rung {
        index,
        label: label.into(),
        bandwidth: 1_000_000 * u64::from(index + 1),
        uri: format!("http://o/{label}.m3u8"),
        rendition: None,
    };
    let info = RunInfo {
        target: "http://o/master.m3u8".into(),
        engine: "native",
        clients_target: 2,
        duration: None,
        ramp_rate: 1.0,
        started: std::time::Instant::now(),
        started_at: std::time::SystemTime::now(),
        ladder: vec![rung(0, "low"), rung(1, "high")],
    };
    let text = hls_swarm::metrics::exposition::render(
        &info,
        &hls_swarm::stats::Snapshot::empty(),
        &hls_swarm::metrics::origin_view::OriginView::default(),
    );
    text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).map(|l| l.split(' ').next().unwrap().to_owned()).collect()
}

#[test]
fn the_grafana_dashboard_is_a_dashboard_model_whose_queries_parse_and_add_up_the_shards() {
    tool("tests/grafana/node_modules/typescript");
    let check = |file: &Path| output(Command::new("node").arg(repo().join("tests/grafana/check.mjs")).arg(file));
    let dashboard = repo().join("deploy/grafana/hls-swarm.json");
    let (ok, text) = check(&dashboard);
    assert!(ok, "{text}");
    let model: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dashboard).unwrap()).unwrap();
    let queries: Vec<(String, String)> = model["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            let title = p["title"].as_str().unwrap_or_default().to_owned();
            p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |t| (title.clone(), t["expr"].as_str().unwrap().to_owned()))
        })
        .collect();
    assert!(queries.len() >= 20, "{} queries", queries.len());
    // Each shard is a pod: every query adds up the pods or takes the worst one, none reads one pod.
    for (title, expr) in &queries {
        assert!(
            ["sum(", "sum by", "max(", "count(", "histogram_quantile("].iter().any(|f| expr.starts_with(f)),
            "{title}: {expr}"
        );
    }
    // Every metric is one the exporter writes.
    let families = exported_families();
    for (title, expr) in &queries {
        for name in
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("hls_swarm_"))
        {
            let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            assert!(families.iter().any(|f| f == name || f == family), "{title}: {name} is not exported");
        }
    }
    // Every query is PromQL Prometheus parses (promtool, as recording rules; Grafana's variables put in).
    let dir = scratch("grafana-rules");
    let rules: String = queries
        .iter()
        .enumerate()
        .map(|(i, (_, expr))| {
            let expr = expr.replace("$__rate_interval", "1m").replace("$namespace", ".*");
            format!("      - record: dashboard:query{i}\n        expr: '{}'\n", expr.replace('\'', "''"))
        })
        .collect();
    let file = dir.join("rules.yaml");
    std::fs::write(&file, format!("groups:\n  - name: dashboard\n    rules:\n{rules}")).unwrap();
    let (ok, text) = output(Command::new("promtool").args(["check", "rules"]).arg(&file));
    assert!(ok && text.contains(&format!("{} rules found", queries.len())), "{text}");
    // The checks can fail: an unknown field, and a panel position that is not one.
    for (i, broken) in [
        {
            let mut m = model.clone();
            m["bogus"] = 1.into();
            m
        },
        {
            let mut m = model.clone();
            m["panels"][0]["gridPos"] = "x".into();
            m
        },
    ]
    .iter()
    .enumerate()
    {
        let file = dir.join(format!("broken{i}.json"));
        std::fs::write(&file, serde_json::to_string_pretty(broken).unwrap()).unwrap();
        let (ok, text) = check(&file);
        assert!(!ok, "broken dashboard {i} passed: {text}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
