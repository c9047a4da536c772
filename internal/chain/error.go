package chain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Error is a request failure: the status and message the client gets, and the cause, which is
// logged and never shown.
type Error struct {
	Status  int
	Message string
	Cause   error
	// Header holds headers to send with the error (Retry-After, rate limit headers).
	Header http.Header
	// Flag is Tyk's classification of the error (AMF, AKI, RLT, ...: apidef.ErrorFlags), which
	// error overrides match; "" when it has none.
	Flag string
}

// Flagged sets the error's flag and returns it.
func (e *Error) Flagged(flag string) *Error {
	e.Flag = flag
	return e
}

// Errorf returns an *Error with the given status and client message, and a cause for the log.
func Errorf(status int, message string, cause error) *Error {
	return &Error{Status: status, Message: message, Cause: cause}
}

// Reply is the status and client message of a refusal, and its flag (Error.Flag), which
// override_messages does not change.
type Reply struct {
	Status  int
	Message string
	Flag    string
}

// Err returns the refusal as an *Error, with its cause for the log.
func (r Reply) Err(cause error) *Error { return Errorf(r.Status, r.Message, cause).Flagged(r.Flag) }

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// ErrNoCredentials is the cause of a refusal for a request that carries no usable credential
// (no key, no user, or a header that cannot be read as one): as in Tyk, it fires no
// AuthFailure event.
var ErrNoCredentials = errors.New("no credentials")

// ErrPresented is in the cause of a refusal of credentials the request carried where its
// method's token source does not look (basic auth's from the body): multi-auth answers with it
// as with a refused credential from a header.
var ErrPresented = errors.New("credentials presented")

// ErrCallerGone is the cause of a request context ended because whoever waited for the answer
// stopped waiting (a batch out of time): like a client that left, it is no fault of the
// upstream's, and nobody is answered.
var ErrCallerGone = errors.New("the caller stopped waiting")

// CallerGone reports whether r's context ended because its client left or its caller stopped
// waiting (ErrCallerGone), not by a deadline of the gateway's own.
func CallerGone(r *http.Request) bool {
	if r == nil {
		return false
	}
	ctx := r.Context()
	err := ctx.Err()
	return err != nil && (errors.Is(err, context.Canceled) || errors.Is(context.Cause(ctx), ErrCallerGone))
}

// StepError is an error of a step run inside another (the key checks inside multi-auth's
// auth_all): Step names the inner step, so that the error is told for what it is.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }

// InStep returns err as the error of the inner step named step.
func InStep(step string, err error) error { return &StepError{Step: step, Err: err} }

// Messages the gateway answers with, worded as Tyk words them so that clients and tests written
// against Tyk keep working.
const (
	MsgAuthFieldMissing    = "Authorization field missing"
	MsgAccessDisallowed    = "Access to this API has been disallowed"
	MsgResourceDisallowed  = "Access to this resource has been disallowed"
	MsgKeyExpired          = "Key has expired, please renew"
	MsgKeyInactive         = "Key is inactive, please renew"
	MsgSessionMissing      = "Session state is missing or unset! Please make sure that auth headers are properly applied"
	MsgRateLimitExceeded   = "Rate limit exceeded"
	MsgAPIRateLimit        = "API Rate Limit Exceeded"
	MsgQuotaExceeded       = "Quota exceeded"
	MsgEndpointForbidden   = "Requested endpoint is forbidden"
	MsgVersionExpired      = "Api Version has expired, please check documentation or contact administrator"
	MsgAPIExpired          = "API has expired, please check documentation or contact administrator"
	MsgVersionNotFound     = "This API version does not seem to exist"
	MsgRequestTooLarge     = "Request is too large"
	MsgUpstreamError       = "There was a problem proxying the request"
	MsgUpstreamTimeout     = "Upstream service reached hard timeout."
	MsgAllHostsDown        = "all hosts are down"
	MsgInternalServerError = "Internal Server Error"
	MsgNotFound            = "Not Found"
	MsgBadRequest          = "Bad Request"
)

// StatusOf returns the client status for err: the status of an *Error in its chain, else 500.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}

// WriteError writes Tyk's error body for status and message:
//
//	{
//	    "error": "message"
//	}
func WriteError(w http.ResponseWriter, status int, message string) {
	body := errorBody(message)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func errorBody(message string) []byte {
	msg, err := json.Marshal(message)
	if err != nil {
		msg = []byte(`"` + http.StatusText(http.StatusInternalServerError) + `"`)
	}
	b := make([]byte, 0, len(msg)+20)
	b = append(b, "{\n    \"error\": "...)
	b = append(b, msg...)
	b = append(b, "\n}"...)
	return b
}

// Render writes the client response for err: an *Error's status, message and headers, or a 500
// for any other error, through the error templates of r's gateway (WriteErrorFor; r may be
// nil). The cause is never shown.
func Render(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		WriteErrorFor(w, r, http.StatusInternalServerError, MsgInternalServerError)
		return
	}
	for k, vs := range e.Header {
		w.Header()[k] = vs
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	WriteFlaggedError(w, r, e.Status, msg, e.Flag)
}

// WriteFlaggedError is WriteErrorFor for an error of Tyk's classification flag, which the
// gateway's error overrides match (Context.ErrorFlag).
func WriteFlaggedError(w http.ResponseWriter, r *http.Request, status int, message, flag string) {
	if r != nil {
		if c := FromRequest(r); c != nil {
			c.ErrorFlag = flag
		}
	}
	WriteErrorFor(w, r, status, message)
}

// ErrorWriter writes a gateway's error answers (its error templates, internal/errtmpl).
type ErrorWriter interface {
	WriteError(w http.ResponseWriter, r *http.Request, status int, message string)
}

// WriteErrorFor writes the error answer for r through the error templates of the gateway
// serving it (Context.Errors), or Tyk's default body (WriteError) when r is not a gateway's.
func WriteErrorFor(w http.ResponseWriter, r *http.Request, status int, message string) {
	if r != nil {
		if c := FromRequest(r); c != nil && c.Errors != nil {
			c.Errors.WriteError(w, r, status, message)
			return
		}
	}
	WriteError(w, status, message)
}
