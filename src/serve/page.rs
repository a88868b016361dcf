//! The web page of `zhibao serve`: server-rendered HTML, Chinese first with English
//! beside. A login form sets an HttpOnly, SameSite=Strict cookie holding the token;
//! every page checks it as the API checks a bearer token.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::Value;

use super::api::{blocking, enterprise_json, progress_rows, record_outcome, user_of, Outcome};
use super::live::{json_rows, ApiError};
use super::Shared;

/// The page's routes.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/e/{uscc}", get(enterprise))
        .route("/e/{uscc}/verify", post(verify))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn frame(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{t}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;margin:1.5em;color:#222}}
table{{border-collapse:collapse;margin:.5em 0 1.5em}}td,th{{border:1px solid #ccc;padding:.25em .5em;font-size:.9em;vertical-align:top}}
th{{background:#f2f2f2}}.en{{color:#777;font-size:.85em}}.red{{color:#b00}}.yellow{{color:#b80}}.green{{color:#070}}
nav a{{margin-right:1em}}
</style></head><body>{b}</body></html>"#,
        t = esc(title),
        b = body
    ))
}

fn login_page(msg: &str) -> Response {
    let body = format!(
        r#"<h1>直报数据审核 <span class="en">zhibao live audit</span></h1>
<p class="error">{}</p>
<form method="post" action="/login" id="login">
<label>令牌 <span class="en">token</span> <input type="password" name="token" id="token" autocomplete="off"></label>
<button type="submit" id="login-button">登录 <span class="en">log in</span></button>
</form>"#,
        esc(msg)
    );
    (StatusCode::UNAUTHORIZED, frame("登录 · log in", &body)).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(shared): State<Arc<Shared>>, Form(f): Form<LoginForm>) -> Response {
    let token = f.token.trim().to_string();
    let s = shared.clone();
    let t = token.clone();
    let ok = tokio::task::spawn_blocking(move || s.users.authenticate(&t).is_some())
        .await
        .unwrap_or(false);
    if !ok {
        return login_page("令牌无效 · the token is not valid");
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("zb_token={token}; HttpOnly; SameSite=Strict; Path=/"),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

async fn logout() -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                "zb_token=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0".to_string(),
            ),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

fn nav(user: &super::users::User) -> String {
    let who = match user.county() {
        Some(c) => format!("区县 {c} · county {c}"),
        None => "市级 · city".to_string(),
    };
    format!(
        r#"<nav><a href="/">清单 <span class="en">query list</span></a>
<span>{} · {}</span>
<form method="post" action="/logout" style="display:inline"><button>退出 <span class="en">log out</span></button></form></nav>"#,
        esc(&user.name),
        esc(&who)
    )
}

fn grade_cell(g: &str) -> String {
    let zh = match g {
        "red" => "红",
        "yellow" => "黄",
        "green" => "绿",
        _ => "",
    };
    format!(r#"<span class="{g}">{zh} {g}</span>"#, g = esc(g))
}

#[derive(Deserialize)]
struct CountyQuery {
    county: Option<String>,
}

async fn index(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<CountyQuery>,
) -> Response {
    let Ok(user) = user_of(&shared, &headers) else {
        return login_page("");
    };
    let s = shared.clone();
    let u = user.clone();
    let r = blocking(move || {
        let snap = s.fresh().map_err(ApiError::from)?;
        let progress = progress_rows(&s, &u)?;
        Ok((snap, progress))
    })
    .await;
    let (snap, progress) = match r {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    if let (Some(c), Some(own)) = (q.county.as_deref(), user.county()) {
        if c != own {
            return ApiError::Forbidden.into_response();
        }
    }
    let want = q
        .county
        .as_deref()
        .or(user.county())
        .filter(|c| !c.is_empty());
    let mine = |rows: Vec<Value>| -> Vec<Value> {
        rows.into_iter()
            .filter(|r| {
                let c = text(r.get("county_code"));
                user.sees(&c) && want.is_none_or(|w| w == c)
            })
            .collect()
    };
    let ql = mine(json_rows(&snap.query_list));
    let sc = mine(json_rows(&snap.scorecard));
    let mut b = nav(&user);
    b += &format!(
        "<h1>{} 审核查询清单 <span class=\"en\">query list, {}</span></h1>",
        esc(&snap.period.to_string()),
        esc(&snap.period.to_string())
    );
    b += &format!(
        "<p>同行统计更新于 <span class=\"en\">peer statistics refreshed at</span> {}</p>",
        esc(&snap.refreshed_at)
    );
    if user.county().is_none() {
        let mut counties: Vec<String> = json_rows(&snap.scorecard)
            .iter()
            .map(|r| text(r.get("county_code")))
            .collect();
        counties.sort();
        b += "<form method=\"get\" action=\"/\" id=\"county-filter\"><label>区县 <span class=\"en\">county</span> <select name=\"county\"><option value=\"\">全部 all</option>";
        for c in counties {
            let sel = if want == Some(c.as_str()) {
                " selected"
            } else {
                ""
            };
            b += &format!("<option{sel}>{}</option>", esc(&c));
        }
        b += "</select></label> <button>筛选 <span class=\"en\">filter</span></button></form>";
    }
    b += "<table id=\"query-list\"><tr><th>序号<br><span class=en>rank</span></th><th>统一社会信用代码<br><span class=en>USCC</span></th><th>单位名称<br><span class=en>name</span></th><th>区县<br><span class=en>county</span></th><th>等级<br><span class=en>grade</span></th><th>原因<br><span class=en>reasons</span></th><th>需提供的凭证<br><span class=en>evidence</span></th><th>核查<br><span class=en>verifier</span></th></tr>";
    for r in &ql {
        let u = text(r.get("uscc"));
        b += &format!(
            "<tr class=\"line\"><td>{}</td><td><a href=\"/e/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(r.get("rank"))),
            esc(&u),
            esc(&u),
            esc(&text(r.get("name"))),
            esc(&text(r.get("county_code"))),
            grade_cell(&text(r.get("grade"))),
            esc(&text(r.get("reasons"))),
            esc(&text(r.get("evidence"))),
            esc(&text(r.get("verifier"))),
        );
    }
    b += "</table>";
    b += "<h2>区县数据质量评分 <span class=\"en\">county scorecard</span></h2><table id=\"scorecard\"><tr><th>区县 county</th><th>名次 rank</th><th>质量得分 score</th><th>税产比 tax/output</th><th>红 red</th><th>黄 yellow</th><th>绿 green</th></tr>";
    for r in &sc {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(r.get("county_code"))),
            esc(&text(r.get("rank"))),
            esc(&text(r.get("quality_score"))),
            esc(&text(r.get("tax_output_ratio"))),
            esc(&text(r.get("red"))),
            esc(&text(r.get("yellow"))),
            esc(&text(r.get("green"))),
        );
    }
    b += "</table>";
    b += "<h2>报送进度 <span class=\"en\">reporting progress</span></h2><table id=\"progress\"><tr><th>区县 county</th><th>应报 expected</th><th>已报 received</th><th>迟报 late</th><th>未报 missing</th><th>已审 audited</th></tr>";
    for r in progress
        .iter()
        .filter(|r| want.is_none_or(|w| text(r.get("county_code")) == w))
    {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(r.get("county_code"))),
            esc(&text(r.get("expected"))),
            esc(&text(r.get("received"))),
            esc(&text(r.get("late"))),
            esc(&text(r.get("missing"))),
            esc(&text(r.get("audited"))),
        );
    }
    b += "</table>";
    frame("审核查询清单 · query list", &b).into_response()
}

async fn enterprise(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
) -> Response {
    let Ok(user) = user_of(&shared, &headers) else {
        return login_page("");
    };
    let s = shared.clone();
    let u = user.clone();
    let id = uscc.clone();
    let v = match blocking(move || enterprise_json(&s, &u, &id)).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let e = &v["enterprise"];
    let mut b = nav(&user);
    b += &format!(
        "<h1>{} <span class=\"en\">{}</span></h1><p>区县 <span class=en>county</span> {} · 行业 <span class=en>industry</span> {}</p>",
        esc(&text(e.get("name"))),
        esc(&uscc),
        esc(&text(e.get("county_code"))),
        esc(&text(e.get("industry_code"))),
    );
    b += "<h2>风险等级 <span class=\"en\">grades</span></h2><table id=\"grades\"><tr><th>报告期 period</th><th>等级 grade</th></tr>";
    for g in v["grades"].as_array().into_iter().flatten() {
        b += &format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(&text(g.get("period"))),
            grade_cell(&text(g.get("grade")))
        );
    }
    b += "</table><h2>审核发现 <span class=\"en\">findings</span></h2><table id=\"findings\"><tr><th>规则 rule</th><th>报告期 period</th><th>说明 message</th><th>建议 hint</th></tr>";
    for f in v["findings"].as_array().into_iter().flatten() {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}<br><span class=en>{}</span></td><td>{}</td></tr>",
            esc(&text(f.get("rule_code"))),
            esc(&text(f.get("period"))),
            esc(&text(f.get("message"))),
            esc(&text(f.get("message_en"))),
            esc(&text(f.get("hint"))),
        );
    }
    b += "</table><h2>核查结果 <span class=\"en\">verification outcomes</span></h2><table id=\"verifications\"><tr><th>报告期 period</th><th>结果 outcome</th><th>审核说明 note</th><th>时间 verified at</th></tr>";
    for o in v["verifications"].as_array().into_iter().flatten() {
        b += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&text(o.get("period"))),
            esc(&text(o.get("outcome"))),
            esc(&text(o.get("note"))),
            esc(&text(o.get("verified_at"))),
        );
    }
    let period = v["grades"]
        .as_array()
        .and_then(|g| g.last())
        .map(|g| text(g.get("period")))
        .unwrap_or_default();
    b += &format!(
        r#"</table><h2>录入核查结果 <span class="en">record an outcome</span></h2>
<form method="post" action="/e/{u}/verify" id="verify">
<label>报告期 <span class="en">period</span> <input name="period" value="{p}"></label>
<label>结果 <span class="en">outcome</span> <select name="outcome">
<option value="confirmed_error">核实有误 confirmed error</option>
<option value="explained">说明合理 explained</option>
<option value="no_issue">无问题 no issue</option></select></label><br>
<label>审核说明 <span class="en">explanation</span><br><textarea name="note" rows="3" cols="60"></textarea></label><br>
<button type="submit" id="verify-button">保存 <span class="en">save</span></button></form>"#,
        u = esc(&uscc),
        p = esc(&period)
    );
    b += "<h2>报送数据 <span class=\"en\">submissions</span></h2>";
    if let Some(subs) = v["submissions"].as_object() {
        for (t, rows) in subs {
            let rows = rows.as_array().cloned().unwrap_or_default();
            let Some(first) = rows.first().and_then(Value::as_object) else {
                continue;
            };
            let cols: Vec<String> = first.keys().cloned().collect();
            b += &format!("<h3>{}</h3><table><tr>", esc(t));
            for c in &cols {
                b += &format!("<th>{}</th>", esc(c));
            }
            b += "</tr>";
            for r in &rows {
                b += "<tr>";
                for c in &cols {
                    b += &format!("<td>{}</td>", esc(&text(r.get(c))));
                }
                b += "</tr>";
            }
            b += "</table>";
        }
    }
    frame(&format!("{uscc} · 企业"), &b).into_response()
}

#[derive(Deserialize)]
struct VerifyForm {
    period: String,
    outcome: String,
    #[serde(default)]
    note: String,
}

async fn verify(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
    Form(f): Form<VerifyForm>,
) -> Response {
    let Ok(user) = user_of(&shared, &headers) else {
        return login_page("");
    };
    let o = Outcome {
        uscc: uscc.clone(),
        period: f.period.trim().to_string(),
        outcome: f.outcome,
        note: Some(f.note).filter(|n| !n.trim().is_empty()),
    };
    let s = shared.clone();
    match blocking(move || record_outcome(&s, &user, &o)).await {
        Ok(_) => Redirect::to(&format!("/e/{uscc}")).into_response(),
        Err(e) => e.into_response(),
    }
}
