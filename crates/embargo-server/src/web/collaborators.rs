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

/// What became of an invitation sent from the advisory page.
#[derive(Template)]
#[template(path = "invited.html")]
struct InvitedPage {
    user: Option<Nav>,
    advisory: String,
    email: String,
    /// The sign-up link, shown once to the inviter (the invitee has no account yet).
    link: Option<String>,
    /// Why the invitation was refused, in words for the inviter.
    error: Option<String>,
}

pub async fn invite(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, fields: f }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    let expires = f.get("expires_on").trim();
    let body = serde_json::json!({
        "email": f.get("email").trim(),
        "organisation": Some(f.get("organisation")).filter(|o| !o.trim().is_empty()),
        "expires_at": (!expires.is_empty()).then(|| format!("{expires}T23:59:59Z")),
        "write": f.get("write") == "on",
    });
    let page = |link: Option<String>, error: Option<String>| InvitedPage {
        user: Nav::of(&caller),
        advisory: aid.to_string(),
        email: f.get("email").trim().to_owned(),
        link,
        error,
    };
    let invitation: NewInvitation = match crate::extract::parse_json(body.to_string().as_bytes()) {
        Ok(i) => i,
        Err(e)
            if e.status == StatusCode::UNPROCESSABLE_ENTITY
                || e.status == StatusCode::BAD_REQUEST =>
        {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&page(None, Some(e.message))),
            )
                .into_response());
        }
        Err(e) => return Err(e.into()),
    };
    let base = st.config.server.public_url.clone();
    match st
        .store
        .invite(caller.actor, &aid, invitation, |t| {
            format!("{base}/invite/{t}")
        })
        .await
    {
        // The link is shown once, to the inviter, to pass on (it was mailed too).
        Ok((_, Some(t))) => Ok((
            StatusCode::CREATED,
            render(&page(Some(format!("{base}/invite/{t}")), None)),
        )
            .into_response()),
        Ok((_, None)) => Ok(redirect(&format!("/advisories/{id}#collaborators"))),
        Err(embargo_store::StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&page(None, Some(e.to_string()))),
        )
            .into_response()),
        Err(embargo_store::StoreError::Conflict(m)) => {
            Ok((StatusCode::CONFLICT, render(&page(None, Some(m)))).into_response())
        }
        Err(e) => Err(e.into()),
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
#[template(path = "signup.html")]
struct SignupPage {
    user: Option<Nav>,
    csrf: String,
    details: embargo_store::SignupDetails,
    name: String,
    error: Option<String>,
}

/// A sign-up link that leads nowhere, and what to do about it.
fn stale_signup() -> PageError {
    PageError(AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "this invitation link was used already, was revoked or has expired: ask the person \
         who invited you for a new one",
    ))
}

pub async fn signup_form(
    Req(st): Req,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if token.len() > 128 {
        return Err(stale_signup());
    }
    let details = st
        .store
        .invitation_signup_details(&token)
        .await?
        .ok_or_else(stale_signup)?;
    let (csrf, new) = super::auth::anon_csrf(&headers)?;
    let page = SignupPage {
        user: None,
        csrf,
        details,
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
    if token.len() > 128 {
        return Err(stale_signup());
    }
    let details = st
        .store
        .invitation_signup_details(&token)
        .await?
        .ok_or_else(stale_signup)?;
    let again = |error: String| SignupPage {
        user: None,
        csrf: f.get("csrf").to_owned(),
        details: details.clone(),
        name: f.get("name").to_owned(),
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
