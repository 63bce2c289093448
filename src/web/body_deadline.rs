//! A deadline for a request's body. Headers already have one (actix's
//! `client_request_timeout`), but a body sent one byte a second would
//! otherwise hold a connection and its buffers open for as long as the
//! sender likes: with enough of them, residents could not get in. Every
//! route reads its body through this deadline; past it, the read fails and
//! the handler answers with its own refusal (a 400), so nothing is stored.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// How long a whole body may take to arrive, by default: a full survey
/// form is a few kilobytes, and even a slow mobile link sends that in a
/// second or two; a definition upload of a megabyte in well under this.
pub const DEFAULT_BODY_DEADLINE: Duration = Duration::from_secs(20);

/// The middleware: wraps the request's body in a [`Deadline`] of the
/// server's `body_deadline` (`--body-deadline`) from now.
pub async fn apply(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let deadline = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map_or(DEFAULT_BODY_DEADLINE, |state| state.body_deadline);
    let body = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(Deadline {
            body,
            expired: Box::pin(tokio::time::sleep(deadline)),
        }),
    });
    next.call(req).await
}

/// A body stream that fails once its deadline has passed.
struct Deadline {
    body: Payload,
    expired: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.body).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.expired.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }
}
