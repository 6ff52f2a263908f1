//! Invitations on the web: the invited person's list, accepting, signing up from a link, and
//! the inviter's form on the advisory page.

use askama::Template;
use axum::Form;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use embargo_store::{Invitation, NewInvitation};

use super::auth::to_login;
use super::{Fields, Nav, SessionForm, check_anonymous_form, redirect, render};
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::{Req, WebCaller};

#[derive(Template)]
#[template(path = "invitations.html")]
struct InvitationsPage {
    user: Option<Nav>,
    csrf: String,
    invitations: Vec<Invitation>,
}

pub async fn list(Req(st): Req, caller: WebCaller) -> Result<Response, PageError> {
    let Some(session) = &caller.session else {
        return Ok(to_login("/invitations"));
    };
    let invitations = st.store.invitations(caller.actor).await?;
    Ok(render(&InvitationsPage {
        user: Nav::of(&caller),
        csrf: session.csrf_token.clone(),
        invitations,
    }))
}

pub async fn accept(
    Req(st): Req,
    Path(iid): Path<String>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let iid: i64 = iid.parse().map_err(|_| AppError::not_found("invitation"))?;
    let id = st.store.accept_invitation(caller.actor, iid).await?;
    Ok(redirect(&format!("/advisories/{id}")))
}

pub async fn invite(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let expires = f.get("expires_on").trim();
    let body = serde_json::json!({
        "email": f.get("email"),
        "organisation": Some(f.get("organisation")).filter(|o| !o.trim().is_empty()),
        "expires_at": (!expires.is_empty()).then(|| format!("{expires}T23:59:59Z")),
    });
    let invitation: NewInvitation = crate::extract::parse_json(body.to_string().as_bytes())?;
    let (_, token) = st.store.invite(caller.actor, &aid, invitation).await?;
    match token {
        // The link is shown once, to the inviter, to pass on.
        Some(t) => {
            let page = super::ErrorPage {
                title: "Invitation created".into(),
                message: format!(
                    "{} has no account yet. Send them this link over a channel you trust; it works once: {}/invite/{t}",
                    f.get("email"),
                    st.config.server.public_url
                ),
                user: Nav::of(&caller),
            };
            Ok((StatusCode::CREATED, render(&page)).into_response())
        }
        None => Ok(redirect(&format!("/advisories/{id}"))),
    }
}

pub async fn revoke(
    Req(st): Req,
    Path((id, cid)): Path<(String, String)>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let cid: i64 = cid.parse().map_err(|_| AppError::not_found("invitation"))?;
    st.store
        .revoke(caller.actor, &advisory_id(&id)?, cid)
        .await?;
    Ok(redirect(&format!("/advisories/{id}")))
}

#[derive(Template)]
#[template(path = "password.html")]
struct SignupPage {
    user: Option<Nav>,
    csrf: String,
    heading: String,
    setup: bool,
    email: String,
    name: String,
    error: Option<String>,
}

pub async fn signup_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    let email = st
        .store
        .invitation_signup(&token)
        .await?
        .ok_or_else(|| PageError(AppError::not_found("invitation")))?;
    let (csrf, new) = super::auth::anon_csrf(&headers)?;
    let page = SignupPage {
        user: None,
        csrf,
        heading: "Create your account to accept the invitation".into(),
        setup: false,
        email: email.to_string(),
        name: String::new(),
        error: None,
    };
    Ok(super::auth::with_anon_cookie(
        render(&page),
        new,
        st.config.secure_cookies(),
    ))
}

pub async fn signup(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let f = Fields(form);
    check_anonymous_form(&st, &headers, &f)?;
    let again = |error: String| SignupPage {
        user: None,
        csrf: f.get("csrf").to_owned(),
        heading: "Create your account to accept the invitation".into(),
        setup: false,
        email: String::new(),
        name: String::new(),
        error: Some(error),
    };
    if f.get("password") != f.get("password2") {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again("The two passwords differ.".into())),
        )
            .into_response());
    }
    let name = Some(f.get("name"))
        .filter(|n| !n.trim().is_empty())
        .unwrap_or("collaborator");
    match st
        .store
        .accept_with_signup(&token, name, f.get("password"))
        .await
    {
        Ok(user) => super::auth::sign_in(&st, user.id, "/").await,
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&again(e.to_string())),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
