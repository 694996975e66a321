//! `--jwt-role-claim`: each data request runs as the token's role (`SET LOCAL ROLE`), so
//! PostgreSQL's privileges and row-level security decide what it sees. Roles are
//! cluster-wide: each test makes its own, with unique names, and drops them afterwards.

use std::time::Duration;

use rowstream::source::saved::SavedQueryDef;
use rowstream::source::Dialect;
use serde_json::{json, Map, Value};

use crate::helpers::*;
use crate::sql::post_sql_as;
use crate::tables::{exec, table_ndjson};

/// Roles made for one test; dropped (with their privileges) when it ends.
struct TestRoles(Vec<String>);

impl Drop for TestRoles {
    fn drop(&mut self) {
        let roles = self.0.join(", ");
        run_sql_from_drop(format!("DROP OWNED BY {roles}; DROP ROLE {roles}"));
    }
}

fn token(claims: Value) -> String {
    let extra: Map<String, Value> = claims.as_object().cloned().unwrap_or_default();
    rowstream::auth::JwtKeys::new(SECRET.as_bytes()).issue_with("tester", Duration::from_secs(600), extra).unwrap()
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> (u16, String) {
    let response = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn error_code(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn ids(body: &str) -> Vec<i64> {
    table_ndjson(body).0.iter().map(|r| r["id"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn each_token_sees_what_its_role_may_see() {
    let db = TestDb::new(Backend::Postgres).await;
    let schema = db.schema.clone().unwrap();
    let (alice, bob) = (format!("{schema}_alice"), format!("{schema}_bob"));
    let _roles = TestRoles(vec![alice.clone(), bob.clone()]);
    exec(
        &db,
        &format!(
            "CREATE ROLE {alice} NOLOGIN; CREATE ROLE {bob} NOLOGIN;
             GRANT USAGE ON SCHEMA {schema} TO {alice}, {bob};
             CREATE TABLE docs (id int PRIMARY KEY, owner text NOT NULL, body text);
             INSERT INTO docs VALUES (1, '{alice}', 'a1'), (2, '{bob}', 'b1'), (3, '{alice}', 'a2');
             ALTER TABLE docs ENABLE ROW LEVEL SECURITY;
             CREATE POLICY own_rows ON docs USING (owner = current_user);
             GRANT SELECT ON docs TO {alice}, {bob};
             CREATE TABLE secret (id int PRIMARY KEY); INSERT INTO secret VALUES (1);"
        ),
    )
    .await;
    let mine = SavedQueryDef::new(
        "mine",
        "select id, body from docs where id >= :from order by id",
        &[rowstream::source::saved::ParamSpec {
            name: "from".into(),
            type_name: "int4".into(),
            default: Some("0".into()),
        }],
        Dialect::Postgres,
    )
    .unwrap();
    let app = spawn_app_on(db, |c| {
        c.jwt_role_claim = Some("role".into());
        c.allow_sql = true;
        c.queries = vec![mine];
    })
    .await;
    // messages (made by the server at start) is readable by alice only.
    exec(&app.db, &format!("GRANT SELECT ON messages TO {alice}; INSERT INTO messages VALUES (1, 's', 'b', now())"))
        .await;
    let as_alice = token(json!({"role": alice}));
    let as_bob = token(json!({"role": bob}));

    for (who, token, expected) in [("alice", &as_alice, vec![1, 3]), ("bob", &as_bob, vec![2])] {
        let (status, body) = get_as(&app, token, "/api/tables/docs/rows").await;
        assert_eq!((status, ids(&body)), (200, expected.clone()), "{who} table: {body}");
        let (status, body) = get_as(&app, token, "/api/tables/docs/rows?mode=buffered&format=csv&select=id").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body.lines().count(), expected.len() + 1, "{who} csv: {body}");
        let (status, body) = get_as(&app, token, "/api/queries/mine/rows").await;
        assert_eq!((status, ids(&body)), (200, expected.clone()), "{who} saved query: {body}");
        let sql = json!({"sql": "select id from docs where id > :n order by id", "params": {"n": 0}});
        let (status, body) = post_sql_as(&app, token, "", &sql).await;
        assert_eq!((status, ids(&body)), (200, expected.clone()), "{who} ad-hoc SQL: {body}");
        // Privileges: no grant on `secret`; the listing shows what the role may read.
        let (status, body) = get_as(&app, token, "/api/tables/secret/rows").await;
        assert_eq!((status, error_code(&body).as_str()), (403, "permission_denied"), "{who}: {body}");
        let (_, list) = get_as(&app, token, "/api/tables").await;
        let list: Value = serde_json::from_str(&list).unwrap();
        let names: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
        let expected_names: &[&str] = if who == "alice" { &["docs", "messages"] } else { &["docs"] };
        assert_eq!(names, expected_names, "{who}");
        let (status, _) = get_as(&app, token, "/api/tables/secret").await;
        assert_eq!(status, 404, "{who}: a relation the role may not read is not listed");
    }
    // The messages fast path runs as the role too (COPY in a read-only transaction).
    let (status, body) = get_as(&app, &as_alice, "/api/messages").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("{\"end\":{\"rows\":1}}\n"), "{body}");
    let (status, body) = get_as(&app, &as_bob, "/api/messages").await;
    assert_eq!((status, error_code(&body).as_str()), (403, "permission_denied"), "{body}");
    let (status, _) = get_as(&app, &as_bob, "/chunked").await;
    assert_eq!(status, 403);

    // A role that does not exist: 403 on every data route, and the pool is fine afterwards.
    let ghost = token(json!({"role": format!("{schema}_ghost")}));
    for path in [
        "/api/tables",
        "/api/tables/docs",
        "/api/tables/docs/rows",
        "/api/queries/mine/rows",
        "/api/messages",
        "/standard",
    ] {
        let (status, body) = get_as(&app, &ghost, path).await;
        assert_eq!((status, error_code(&body).as_str()), (403, "forbidden_role"), "{path}: {body}");
    }
    let (status, body) = post_sql_as(&app, &ghost, "", &json!({"sql": "select 1"})).await;
    assert_eq!((status, error_code(&body).as_str()), (403, "forbidden_role"), "{body}");
    // No role claim, or one that is not a string or too long to be a role: 403.
    for claims in [json!({}), json!({"role": 7}), json!({"role": ""}), json!({"role": "r".repeat(64)})] {
        let (status, body) = get_as(&app, &token(claims.clone()), "/api/tables/docs/rows").await;
        assert_eq!((status, error_code(&body).as_str()), (403, "forbidden_role"), "{claims}: {body}");
    }
    // Ad-hoc SQL cannot leave the role.
    for sql in [
        "select set_config('role', 'postgres', true), (select count(*) from docs)",
        "select query_to_xml('select * from docs', true, false, '')",
    ] {
        let (status, body) = post_sql_as(&app, &as_bob, "", &json!({"sql": sql})).await;
        assert_eq!((status, error_code(&body).as_str()), (403, "forbidden_role"), "{sql}: {body}");
    }
    let (_, body) = get_as(&app, &as_bob, "/api/tables/docs/rows").await;
    assert_eq!(ids(&body), [2], "still bob's rows only");
}
