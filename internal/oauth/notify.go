package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"sync"
	"time"
)

// Notification is Tyk's OAuth key change notification, posted to an API's
// notifications.oauth_on_keychange_url after each token the token endpoint issues.
type Notification struct {
	AuthCode        string `json:"auth_code"`
	NewOAuthToken   string `json:"new_oauth_token"`
	RefreshToken    string `json:"refresh_token"`
	OldRefreshToken string `json:"old_refresh_token"`
	// NotificationType is "new", or "refresh" for a token a refresh token gave.
	NotificationType string `json:"notification_type"`
}

// Tyk's notification settings: a 10 s timeout, and 3 attempts 10 s apart while the receiver
// fails or answers other than 200.
const (
	notifyTimeout  = 10 * time.Second
	notifyAttempts = 3
	// maxNotifying bounds the notifications in flight; past it new ones are dropped (and
	// logged) rather than piling up behind a receiver that is down.
	maxNotifying = 256
)

// notifyRetryEvery spaces the attempts; a variable for tests.
var notifyRetryEvery = 10 * time.Second

// Notifier posts notifications in the background, for the whole gateway.
type Notifier struct {
	client *http.Client
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}
}

// NewNotifier returns a notifier; Close stops it.
func NewNotifier(log *slog.Logger) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		client: &http.Client{Timeout: notifyTimeout,
			// A receiver's redirect is not followed: the notification holds tokens.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		log: log, ctx: ctx, cancel: cancel, slots: make(chan struct{}, maxNotifying),
	}
}

// Close abandons the notifications still being sent and waits for their goroutines.
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// Send posts note to url with Tyk's headers (X-Tyk-Shared-Secret: secret), in the background.
func (n *Notifier) Send(apiID, url, secret string, note Notification) {
	select {
	case n.slots <- struct{}{}:
	default:
		n.logf(slog.LevelWarn, "oauth: a key change notification was dropped: too many in flight (the receiver is slow or down)", apiID, url, nil)
		return
	}
	body, _ := json.Marshal(note)
	n.wg.Add(1)
	go func() {
		defer func() { <-n.slots; n.wg.Done() }()
		var err error
		for attempt := 1; attempt <= notifyAttempts; attempt++ {
			if err = n.post(url, secret, body); err == nil {
				return
			}
			if attempt < notifyAttempts {
				select {
				case <-n.ctx.Done():
					return
				case <-time.After(notifyRetryEvery):
				}
			}
		}
		n.logf(slog.LevelError, "oauth: a key change notification could not be delivered", apiID, url, err)
	}()
}

func (n *Notifier) post(url, secret string, body []byte) error {
	req, err := http.NewRequestWithContext(n.ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tyk-Gatewy-Notifications") // Tyk's spelling
	req.Header.Set("X-Tyk-Shared-Secret", secret)
	resp, err := n.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the receiver answered %d", resp.StatusCode)
	}
	return nil
}

func (n *Notifier) logf(level slog.Level, msg, apiID, url string, err error) {
	if n.log == nil || errors.Is(err, context.Canceled) {
		return
	}
	shown := url
	if u, err := neturl.Parse(url); err == nil {
		shown = u.Redacted()
	}
	args := []any{"api_id", apiID, "url", shown}
	if err != nil {
		args = append(args, "error", err)
	}
	n.log.Log(context.Background(), level, msg, args...)
}
