//! The HTTP API (`/api/v1`) and the routes of the web page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use polars::prelude::*;
use serde::Deserialize;
use serde_json::{json, Value};

use super::live::{json_rows, rows_of, ApiError, Request};
use super::users::User;
use super::{page, Shared};
use crate::model::{Month, Table};

/// The largest body accepted (bytes).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/submissions/{table}", post(submit))
        .route("/api/v1/query-list", get(query_list))
        .route("/api/v1/enterprises/{uscc}", get(enterprise))
        .route("/api/v1/verifications", post(verify))
        .route("/api/v1/scorecard", get(scorecard))
        .route("/api/v1/progress", get(progress))
        .merge(page::routes())
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

/// A JSON error answer.
pub fn error(code: StatusCode, msg: &str) -> Response {
    (code, Json(json!({ "error": msg }))).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadRequest(m) => error(StatusCode::BAD_REQUEST, &m),
            ApiError::Forbidden => error(
                StatusCode::FORBIDDEN,
                "forbidden: outside the counties this user may see",
            ),
            ApiError::NotFound(m) => error(StatusCode::NOT_FOUND, &m),
            ApiError::Internal(m) => {
                tracing::error!(error = %m, "request failed");
                error(StatusCode::INTERNAL_SERVER_ERROR, &m)
            }
        }
    }
}

/// The token of a request: `Authorization: Bearer`, or the page's cookie.
pub fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_string());
        }
        return None;
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("zb_token=").map(str::to_string))
}

/// The user of a request, or `401`.
#[allow(clippy::result_large_err)] // the refusal is the answer itself
pub fn user_of(shared: &Shared, headers: &HeaderMap) -> Result<User, Response> {
    let token = token_of(headers).ok_or_else(|| {
        error(
            StatusCode::UNAUTHORIZED,
            "a token is needed: Authorization: Bearer TOKEN",
        )
    })?;
    shared
        .users
        .authenticate(&token)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, "the token is not valid"))
}

/// Runs blocking work (Polars, SQLite) off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("the request's work failed: {e}")))?
}

async fn submit(
    State(shared): State<Arc<Shared>>,
    Path(table): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let user = match user_of(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let Some(t) = Table::from_name(&table) else {
        return error(
            StatusCode::NOT_FOUND,
            &format!(
                "no table '{table}': expected one of {}",
                Table::ALL
                    .iter()
                    .map(|t| t.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            return error(
                e.status(),
                &format!("the body cannot be read: {}", e.body_text()),
            )
        }
    };
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let t0 = std::time::Instant::now();
    let r = shared
        .submit(Request {
            table: t,
            body: body.to_vec(),
            is_json,
            user,
            note: None,
        })
        .await;
    tracing::debug!(
        ms = t0.elapsed().as_secs_f64() * 1000.0,
        "submission answered"
    );
    match r {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct CountyQuery {
    county: Option<String>,
}

/// Rows of an output frame that the user may see (and of `county` if asked).
fn visible(df: &DataFrame, user: &User, county: Option<&str>) -> Result<Vec<Value>, ApiError> {
    if let (Some(c), Some(own)) = (county, user.county()) {
        if c != own {
            return Err(ApiError::Forbidden);
        }
    }
    let want = county.or(user.county());
    let rows = json_rows(df);
    Ok(match want {
        None => rows,
        Some(c) => rows
            .into_iter()
            .filter(|r| r.get("county_code").and_then(Value::as_str) == Some(c))
            .collect(),
    })
}

/// Rows of a frame of the snapshot that the user may see, as a JSON answer.
async fn snapshot_rows(
    shared: Arc<Shared>,
    headers: HeaderMap,
    county: Option<String>,
    pick: fn(&super::live::Snapshot) -> &DataFrame,
) -> Response {
    let user = match user_of(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    match blocking(move || {
        let snap = shared.fresh().map_err(ApiError::from)?;
        visible(pick(&snap), &user, county.as_deref())
    })
    .await
    {
        Ok(v) => Json(Value::Array(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn query_list(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<CountyQuery>,
) -> Response {
    snapshot_rows(shared, headers, q.county, |s| &s.query_list).await
}

async fn scorecard(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<CountyQuery>,
) -> Response {
    snapshot_rows(shared, headers, q.county, |s| &s.scorecard).await
}

/// Reporting progress per county, from the last full audit.
pub fn progress_rows(shared: &Shared, user: &User) -> Result<Vec<Value>, ApiError> {
    let snap = shared.fresh().map_err(ApiError::from)?;
    let rows = visible(&snap.scorecard, user, None)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let g = |k: &str| r.get(k).cloned().unwrap_or(Value::Null);
            json!({
                "county_code": g("county_code"),
                "period": snap.period.to_string(),
                "expected": g("expected"),
                "received": g("received"),
                "late": g("late"),
                "missing": g("missing"),
                "audited": g("received"),
            })
        })
        .collect())
}

async fn progress(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let user = match user_of(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let s = shared.clone();
    match blocking(move || progress_rows(&s, &user)).await {
        Ok(v) => Json(Value::Array(v)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// One enterprise: register fields, submissions by table, findings, grades,
/// verification outcomes.
pub fn enterprise_json(shared: &Shared, user: &User, uscc: &str) -> Result<Value, ApiError> {
    let snap = shared.fresh().map_err(ApiError::from)?;
    let live = shared.lock().map_err(ApiError::from)?;
    let Some((eid, county)) = live.county_of(uscc) else {
        return Err(ApiError::NotFound(format!(
            "no enterprise {uscc} in the register"
        )));
    };
    if !user.sees(&county) {
        return Err(ApiError::Forbidden);
    }
    let usccs = live.usccs();
    let pe = |e: PolarsError| ApiError::Internal(e.to_string());
    let ent = live
        .batch
        .enterprises
        .slice(eid as i64, 1)
        .drop("eid")
        .map_err(pe)?;
    let enterprise = rows_of(&ent, &usccs).into_iter().next().unwrap_or_default();
    let mut subs = serde_json::Map::new();
    for t in live.batch.tables.keys() {
        if *t == Table::Verifications {
            continue;
        }
        let Some(mine) = live.rows_of_enterprise(*t, eid).map_err(ApiError::from)? else {
            continue;
        };
        if mine.height() > 0 {
            subs.insert(
                t.name().to_string(),
                Value::Array(
                    rows_of(&mine, &usccs)
                        .into_iter()
                        .map(Value::Object)
                        .collect(),
                ),
            );
        }
    }
    let mine = |df: &DataFrame| -> Result<DataFrame, ApiError> {
        if df.width() == 0 {
            return Ok(df.clone());
        }
        df.clone()
            .lazy()
            .filter(col("uscc").eq(lit(uscc)))
            .collect()
            .map_err(pe)
    };
    let findings = json_rows(&mine(&snap.findings)?);
    let g = mine(&snap.grades)?;
    let mut grades = Vec::new();
    if g.height() > 0 {
        let hist = g
            .column("grade_history")
            .ok()
            .and_then(|c| c.str().ok().and_then(|c| c.get(0).map(str::to_string)));
        let score = g
            .column("score")
            .ok()
            .and_then(|c| c.f64().ok().and_then(|c| c.get(0)));
        let start = snap.period.year_start();
        if let Some(h) = hist {
            let n = h.chars().count();
            for (i, ch) in h.chars().enumerate() {
                let grade = match ch {
                    'R' => "red",
                    'Y' => "yellow",
                    'G' => "green",
                    _ => continue,
                };
                let m = Month(start.0 + i as i32);
                grades.push(json!({
                    "period": m.to_string(),
                    "grade": grade,
                    "score": if i + 1 == n { score.map(Value::from).unwrap_or(Value::Null) } else { Value::Null },
                }));
            }
        }
    }
    // Outcomes: the verifications table, with the notes the service was given.
    let mut verifications = Vec::new();
    if let Some(v) = live
        .rows_of_enterprise(Table::Verifications, eid)
        .map_err(ApiError::from)?
    {
        let rows = rows_of(&v, &usccs);
        for r in rows {
            let period = r
                .get("period")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let key = format!("{uscc}|{period}");
            let note = live
                .store
                .latest("verifications", &key)
                .map_err(ApiError::from)?
                .and_then(|row| row.get("note").cloned())
                .unwrap_or(Value::Null);
            verifications.push(json!({
                "period": period,
                "outcome": r.get("outcome").cloned().unwrap_or(Value::Null),
                "note": note,
                "verified_at": r.get("verified_at").cloned().unwrap_or(Value::Null),
            }));
        }
    }
    Ok(json!({
        "enterprise": enterprise,
        "submissions": subs,
        "findings": findings,
        "grades": grades,
        "verifications": verifications,
    }))
}

async fn enterprise(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
) -> Response {
    let user = match user_of(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let s = shared.clone();
    match blocking(move || enterprise_json(&s, &user, &uscc)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A verification outcome, as posted.
#[derive(Deserialize, Clone)]
pub struct Outcome {
    /// The enterprise.
    pub uscc: String,
    /// The period queried.
    pub period: String,
    /// `confirmed_error`, `explained` or `no_issue`.
    pub outcome: String,
    /// The explanation (审核说明).
    #[serde(default)]
    pub note: Option<String>,
}

/// Stores an outcome (checked as a row of the verifications table).
pub fn record_outcome(shared: &Shared, user: &User, o: &Outcome) -> Result<Value, ApiError> {
    if !["confirmed_error", "explained", "no_issue"].contains(&o.outcome.as_str()) {
        return Err(ApiError::BadRequest(format!(
            "outcome '{}': expected confirmed_error, explained or no_issue",
            o.outcome
        )));
    }
    if Month::parse_strict(&o.period).is_err() {
        return Err(ApiError::BadRequest(format!(
            "period '{}': expected YYYY-MM",
            o.period
        )));
    }
    let live = shared.lock().map_err(ApiError::from)?;
    let Some((_, county)) = live.county_of(&o.uscc) else {
        if user.county().is_some() {
            return Err(ApiError::Forbidden);
        }
        return Err(ApiError::NotFound(format!(
            "no enterprise {} in the register",
            o.uscc
        )));
    };
    if !user.sees(&county) {
        return Err(ApiError::Forbidden);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let now = super::store::now_iso();
    w.write_record(["uscc", "period", "outcome", "verified_at"])
        .and_then(|_| w.write_record([o.uscc.as_str(), &o.period, &o.outcome, &now]))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = w
        .into_inner()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    drop(live);
    let answer = shared.submit_blocking(Request {
        table: Table::Verifications,
        body,
        is_json: false,
        user: user.clone(),
        note: o.note.clone(),
    })?;
    if answer.get("accepted").and_then(Value::as_u64) != Some(1) {
        let why = answer["quarantined"][0]["reason"]
            .as_str()
            .unwrap_or("the outcome was not accepted")
            .to_string();
        return Err(ApiError::BadRequest(why));
    }
    Ok(
        json!({"stored": true, "uscc": o.uscc, "period": o.period, "outcome": o.outcome, "verified_at": now}),
    )
}

async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let user = match user_of(&shared, &headers) {
        Ok(u) => u,
        Err(r) => return r,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let o: Outcome = match serde_json::from_slice(&body) {
        Ok(o) => o,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the body must be {{\"uscc\", \"period\", \"outcome\", \"note\"}}: {e}"),
            )
        }
    };
    let s = shared.clone();
    match blocking(move || record_outcome(&s, &user, &o)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}
