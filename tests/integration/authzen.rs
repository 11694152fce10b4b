//! The OpenID AuthZEN Authorization API over HTTP, with a real HTTP client: evaluation,
//! evaluations with defaults and each semantic, resource search with paging, discovery,
//! the bearer token, and the status codes of bad input.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::config::BearerToken;
use serde_json::json;

use crate::support::authzen::{get, post};
use crate::support::{Backend, TestServer, as_admin, world};

/// An MSP with three customers; a technician allowed computers.view on two of them and
/// the computers registered in them, and nothing on the MSP itself.
struct World {
    server: TestServer,
    technician: String,
    azure_object_id: String,
    allowed: Vec<String>,
    msp: String,
}

async fn world(configure: impl FnOnce(&mut rbac_sidecar::config::ServeConfig)) -> Option<World> {
    let mut server = TestServer::start_configured(Backend::Sqlite, configure).await?;
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await.id;
    let mut customers = Vec::new();
    for name in ["a", "b", "c"] {
        customers.push(world::tenant(admin, name, Some(&msp), false).await.id);
    }
    let azure_object_id = uuid::Uuid::new_v4().to_string();
    let technician = world::user_with_object_id(admin, &msp, &azure_object_id)
        .await
        .id;
    let role = world::role(admin, &["computers.view"]).await.id;
    let mut allowed = customers[..2].to_vec();
    for tenant in &allowed {
        let user = pb::principal::Kind::UserId(technician.clone());
        world::grant(
            admin,
            &role,
            user,
            pb::scope::Kind::TenantId(tenant.clone()),
            pb::Effect::Allow,
        )
        .await;
    }
    for (id, owner) in [
        ("pc-1", &customers[0]),
        ("pc-2", &customers[2]),
        ("pc-3", &customers[1]),
    ] {
        let request = pb::UpsertResourceRequest {
            r#type: "computer".into(),
            id: id.into(),
            owner_tenant_id: Some(owner.clone()),
            validate_only: false,
        };
        admin.upsert_resource(as_admin(request)).await.unwrap();
    }
    allowed.sort();
    Some(World {
        server,
        technician,
        azure_object_id,
        allowed,
        msp,
    })
}

fn evaluation(user: &str, action: &str, kind: &str, id: &str) -> serde_json::Value {
    json!({
        "subject": { "type": "user", "id": user },
        "action": { "name": action },
        "resource": { "type": kind, "id": id },
    })
}

#[tokio::test]
async fn evaluations_decide_as_check_access_does() {
    let Some(w) = world(|_| {}).await else {
        return;
    };
    let at = &w.server.http_address;
    // By user id and by Azure object id.
    for subject in [&w.technician, &w.azure_object_id] {
        let (status, answer) = post(
            at,
            "/access/v1/evaluation",
            &evaluation(subject, "computers.view", "tenant", &w.allowed[0]),
            None,
        )
        .await;
        assert_eq!(
            (status, &answer["decision"]),
            (200, &json!(true)),
            "{answer}"
        );
    }
    let (_, answer) = post(
        at,
        "/access/v1/evaluation",
        &evaluation(&w.technician, "computers.view", "tenant", &w.msp),
        None,
    )
    .await;
    assert_eq!(answer["decision"], false);
    assert_eq!(answer["context"]["decision"], "not_granted");
    assert!(
        answer["context"]["reason"]
            .as_str()
            .unwrap()
            .contains("computers.view")
    );
    let (_, answer) = post(
        at,
        "/access/v1/evaluation",
        &evaluation(&w.technician, "computers.view", "computer", "pc-1"),
        None,
    )
    .await;
    assert_eq!(answer["decision"], true, "{answer}");
    let unknown = uuid::Uuid::new_v4().to_string();
    let (_, answer) = post(
        at,
        "/access/v1/evaluation",
        &evaluation(&w.technician, "computers.view", "tenant", &unknown),
        None,
    )
    .await;
    assert_eq!(
        (&answer["decision"], &answer["context"]["decision"]),
        (&json!(false), &json!("not_found"))
    );

    // Evaluations: top-level defaults, each item overriding what it names.
    let batch = |semantic: Option<&str>| {
        let mut body = json!({
            "subject": { "type": "user", "id": w.technician },
            "action": { "name": "computers.view" },
            "evaluations": [
                { "resource": { "type": "tenant", "id": w.allowed[0] } },
                { "resource": { "type": "tenant", "id": w.msp } },
                { "resource": { "type": "computer", "id": "pc-3" } },
                { "action": { "name": "computers.manage" }, "resource": { "type": "tenant", "id": w.allowed[0] } },
            ],
        });
        if let Some(semantic) = semantic {
            body["options"] = json!({ "evaluations_semantic": semantic });
        }
        body
    };
    let decisions = |answer: &serde_json::Value| -> Vec<bool> {
        answer["evaluations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["decision"].as_bool().unwrap())
            .collect()
    };
    let (status, all) = post(at, "/access/v1/evaluations", &batch(None), None).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(decisions(&all), [true, false, true, false]);
    let (_, first_deny) = post(
        at,
        "/access/v1/evaluations",
        &batch(Some("deny_on_first_deny")),
        None,
    )
    .await;
    assert_eq!(decisions(&first_deny), [true, false]);
    let (_, first_permit) = post(
        at,
        "/access/v1/evaluations",
        &batch(Some("permit_on_first_permit")),
        None,
    )
    .await;
    assert_eq!(decisions(&first_permit), [true]);
    // Without `evaluations`, the top level is one evaluation.
    let single = evaluation(&w.technician, "computers.view", "tenant", &w.allowed[1]);
    let (_, answer) = post(at, "/access/v1/evaluations", &single, None).await;
    assert_eq!(answer["decision"], true, "{answer}");
    // One malformed item is a denial of its own; the others are decided.
    let mixed = json!({
        "subject": { "type": "user", "id": w.technician },
        "action": { "name": "computers.view" },
        "evaluations": [
            { "resource": { "type": "tenant", "id": "not-a-uuid" } },
            { "resource": { "type": "tenant", "id": w.allowed[0] } },
        ],
    });
    let (_, answer) = post(at, "/access/v1/evaluations", &mixed, None).await;
    assert_eq!(decisions(&answer), [false, true]);
    assert_eq!(answer["evaluations"][0]["context"]["decision"], "invalid");
    w.server.stop().await;
}

#[tokio::test]
async fn resource_search_pages_through_what_the_subject_may_reach() {
    let Some(w) = world(|_| {}).await else {
        return;
    };
    let at = &w.server.http_address;
    let search = |kind: &str, token: Option<&str>| {
        json!({
            "subject": { "type": "user", "id": w.technician },
            "action": { "name": "computers.view" },
            "resource": { "type": kind },
            "page": { "limit": 1, "token": token },
        })
    };
    let mut found = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let (status, page) = post(
            at,
            "/access/v1/search/resource",
            &search("tenant", token.as_deref()),
            None,
        )
        .await;
        assert_eq!(status, 200, "{page}");
        for result in page["results"].as_array().unwrap() {
            assert_eq!(result["type"], "tenant");
            found.push(result["id"].as_str().unwrap().to_owned());
        }
        match page["page"]["next_token"].as_str() {
            Some("") | None => break,
            Some(next) => token = Some(next.to_owned()),
        }
        assert!(found.len() <= 10, "paging does not end");
    }
    assert_eq!(found, w.allowed);
    let (_, computers) = post(
        at,
        "/access/v1/search/resource",
        &json!({
            "subject": { "type": "user", "id": w.technician },
            "action": { "name": "computers.view" },
            "resource": { "type": "computer" },
        }),
        None,
    )
    .await;
    let ids: Vec<&str> = computers["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pc-1", "pc-3"]);
    w.server.stop().await;
}

#[tokio::test]
async fn discovery_names_the_endpoints() {
    let Some(w) = world(|_| {}).await else {
        return;
    };
    let at = &w.server.http_address;
    let (status, document) = get(at, "/.well-known/authzen-configuration").await;
    assert_eq!(status, 200);
    assert_eq!(document["policy_decision_point"], format!("http://{at}"));
    for (key, path) in [
        ("access_evaluation_endpoint", "/access/v1/evaluation"),
        ("access_evaluations_endpoint", "/access/v1/evaluations"),
        ("search_resource_endpoint", "/access/v1/search/resource"),
    ] {
        assert_eq!(document[key], format!("http://{at}{path}"));
    }
    w.server.stop().await;
}

#[tokio::test]
async fn bad_input_and_a_missing_token_get_the_statuses_the_specification_names() {
    let token = |config: &mut rbac_sidecar::config::ServeConfig| {
        config.auth_token = Some(BearerToken::new("s3cret").unwrap());
    };
    let Some(server) = TestServer::start_configured(Backend::Sqlite, token).await else {
        return;
    };
    let at = &server.http_address;
    let good = evaluation(
        &uuid::Uuid::new_v4().to_string(),
        "billing.view",
        "system",
        "-",
    );
    let (status, _) = post(at, "/access/v1/evaluation", &good, None).await;
    assert_eq!(status, 401);
    let (status, _) = post(at, "/access/v1/evaluation", &good, Some("wrong")).await;
    assert_eq!(status, 401);
    let tenant = uuid::Uuid::new_v4().to_string();
    let cases = [
        (json!({ "subject": { "type": "user", "id": "x" } }), "needs"),
        (
            evaluation("not-a-uuid", "computers.view", "tenant", &tenant),
            "UUID",
        ),
        (
            evaluation(&tenant, "no.such", "tenant", &tenant),
            "not a permission key",
        ),
        (
            evaluation(&tenant, "computers.view", "planet", "p"),
            "resource type",
        ),
        (
            evaluation(&tenant, "computers.view", "tenant", "acme"),
            "UUID",
        ),
        (
            json!({ "subject": { "type": "group", "id": tenant }, "action": { "name": "computers.view" }, "resource": { "type": "tenant", "id": tenant } }),
            "subject type",
        ),
        (json!("not an object"), "JSON"),
    ];
    for (body, needle) in cases {
        let (status, answer) = post(at, "/access/v1/evaluation", &body, Some("s3cret")).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(needle),
            "{body}: {answer}"
        );
    }
    let (status, answer) = post(at, "/access/v1/evaluation", &good, Some("s3cret")).await;
    assert_eq!(
        (status, &answer["decision"]),
        (200, &json!(false)),
        "{answer}"
    );
    server.stop().await;
}

/// Sends raw bytes to the HTTP port and reads the whole answer (the server closes after
/// `Connection: close`).
async fn raw_http(at: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(at).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut answer),
    )
    .await
    .unwrap()
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The discovery document names the port as configured, never as a client's `Host`
/// header says: a forged Host cannot point callers at another server.
#[tokio::test]
async fn discovery_ignores_the_host_header() {
    let Some(w) = world(|_| {}).await else {
        return;
    };
    let at = &w.server.http_address;
    let answer = raw_http(
        at,
        "GET /.well-known/authzen-configuration HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(!answer.contains("evil.example"), "{answer}");
    assert!(
        answer.contains(&format!("\"policy_decision_point\":\"http://{at}\"")),
        "{answer}"
    );
    w.server.stop().await;
}

/// How long until the server closes `stream`, reading (and dropping) what it sends; None
/// when it is still open after `within`.
async fn closed_within(
    stream: &mut tokio::net::TcpStream,
    within: std::time::Duration,
) -> Option<std::time::Duration> {
    use tokio::io::AsyncReadExt;
    let started = std::time::Instant::now();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// The HTTP port closes a connection that says nothing, one that sends its headers a
/// byte at a time (the deadline is not reset by each byte), and one that stays idle after
/// its answer, within the default header deadline of 10 s.
#[tokio::test]
async fn the_http_port_closes_silent_slow_and_idle_connections() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let at = server.http_address.clone();
    let bound = Duration::from_secs(13);
    let silent = async {
        let mut stream = tokio::net::TcpStream::connect(&at).await.unwrap();
        closed_within(&mut stream, bound).await
    };
    let slow = async {
        let stream = tokio::net::TcpStream::connect(&at).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let dripping = tokio::spawn(async move {
            let request = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: {}", "a".repeat(200));
            for byte in request.as_bytes() {
                if write.write_all(&[*byte]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let started = std::time::Instant::now();
        let mut buffer = [0u8; 1024];
        let closed = tokio::time::timeout(bound, async {
            use tokio::io::AsyncReadExt;
            loop {
                match read.read(&mut buffer).await {
                    Ok(0) | Err(_) => return started.elapsed(),
                    Ok(_) => {}
                }
            }
        })
        .await
        .ok();
        dripping.abort();
        closed
    };
    let idle = async {
        let mut stream = tokio::net::TcpStream::connect(&at).await.unwrap();
        stream
            .write_all(b"GET /.well-known/authzen-configuration HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        closed_within(&mut stream, bound).await
    };
    let (silent, slow, idle) = tokio::join!(silent, slow, idle);
    for (what, closed) in [("silent", silent), ("slow", slow), ("idle", idle)] {
        assert!(
            closed.is_some_and(|after| after >= Duration::from_secs(9)),
            "the {what} connection: {closed:?}"
        );
    }
    server.stop().await;
}

/// The HTTP port holds at most --max-connections at once, as each gRPC port does; a
/// connection past the limit is closed as it arrives, and a freed place serves again.
#[tokio::test]
async fn the_http_port_holds_at_most_max_connections() {
    use std::time::Duration;
    let limit = |config: &mut rbac_sidecar::config::ServeConfig| config.max_connections = 2;
    let Some(server) = TestServer::start_configured(Backend::Sqlite, limit).await else {
        return;
    };
    let at = server.http_address.clone();
    let held = [
        tokio::net::TcpStream::connect(&at).await.unwrap(),
        tokio::net::TcpStream::connect(&at).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut over = tokio::net::TcpStream::connect(&at).await.unwrap();
    assert!(
        closed_within(&mut over, Duration::from_secs(3))
            .await
            .is_some(),
        "a third connection is served"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = get(&at, "/.well-known/authzen-configuration").await;
    assert_eq!(status, 200);
    server.stop().await;
}

/// A request whose body drips in a byte at a time is answered 408 once
/// --request-timeout-ms has passed, as a gRPC call gets DEADLINE_EXCEEDED: the header
/// deadline ends with the headers, so without this the body could hold the connection
/// for ever.
#[tokio::test]
async fn a_request_body_that_drips_is_cut_off_at_the_request_timeout() {
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let short = |config: &mut rbac_sidecar::config::ServeConfig| config.request_timeout_ms = 1_000;
    let Some(server) = TestServer::start_configured(Backend::Sqlite, short).await else {
        return;
    };
    let stream = tokio::net::TcpStream::connect(&server.http_address)
        .await
        .unwrap();
    let (mut read, mut write) = stream.into_split();
    write
        .write_all(
            b"POST /access/v1/evaluation HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
        )
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..100 {
            if write.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let started = std::time::Instant::now();
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), read.read(&mut answer)).await;
    dripping.abort();
    let Ok(Ok(n)) = read else {
        panic!("no answer within 5 s of a dripping body: {read:?}");
    };
    let answer = String::from_utf8_lossy(&answer[..n]).into_owned();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout_ms"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}
