package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/nhi-inventory/nhi/inventory"
	"github.com/nhi-inventory/nhi/report"
)

// ErrNothing is returned by Build for a diff with no item when no
// heartbeat was asked for.
var ErrNothing = errors.New("nothing to post")

// Build makes the message for one destination: a Slack Block Kit
// message, a Teams Adaptive Card, or (webhook) the Diff document in a
// Standard Webhooks envelope. heartbeat builds the "no change" message.
func Build(dest Destination, d *inventory.Diff, heartbeat bool) (Message, error) {
	if !heartbeat && d.Summary.Empty() {
		return Message{}, ErrNothing
	}
	msg := Message{ContentType: "application/json", Heartbeat: heartbeat}
	var err error
	switch dest.Kind {
	case Slack:
		msg.Body, err = json.Marshal(slackMessage(dest, d, heartbeat))
	case Teams:
		msg.Body, err = json.Marshal(teamsMessage(dest, d, heartbeat))
	case Webhook:
		msg.Body, err = json.Marshal(webhookPayload(d, heartbeat))
	default:
		return Message{}, fmt.Errorf("unknown destination kind %q (want slack, teams or webhook)", dest.Kind)
	}
	if err != nil {
		return Message{}, err
	}
	ids := d.Items()
	if heartbeat {
		ids = []string{fmt.Sprintf("heartbeat:%d", d.To.ID)}
	}
	msg.ID = MessageID(dest.Name, ids)
	return msg, nil
}

// Slack's limits (https://api.slack.com/reference/block-kit/blocks): a
// header's text is at most 150 characters, a section's 3,000, a message
// at most 50 blocks.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

func slackMessage(dest Destination, d *inventory.Diff, heartbeat bool) *slack.WebhookMessage {
	head := title(d, heartbeat)
	blocks := []slack.Block{
		slack.NewHeaderBlock(slack.NewTextBlockObject(slack.PlainTextType, clip(head, slackHeaderMax), false, false)),
		slack.NewContextBlock("window", slack.NewTextBlockObject(slack.MarkdownType,
			slackEscape(report.DiffWindow(d)+" · "+openNow(d)), false, false)),
	}
	if !heartbeat {
		ls := lines(d, dest.LinkTemplate)
		shown := min(len(ls), dest.limit())
		var b strings.Builder
		for _, l := range ls[:shown] {
			text := slackEscape(l.Text)
			if l.Link != "" {
				text += " <" + l.Link + "|view>"
			}
			item := fmt.Sprintf("%s *%s* %s\n", severityMark(l.Severity), l.Severity, text)
			if b.Len()+len(item) > slackSectionMax {
				blocks = append(blocks, slackSection(b.String()))
				b.Reset()
			}
			b.WriteString(item)
		}
		if b.Len() > 0 {
			blocks = append(blocks, slackSection(b.String()))
		}
		if more := len(ls) - shown; more > 0 {
			blocks = append(blocks, slack.NewContextBlock("more", slack.NewTextBlockObject(slack.MarkdownType,
				fmt.Sprintf("and %d more (nhi diff --from %d --to %d)", more, d.From.ID, d.To.ID), false, false)))
		}
	}
	return &slack.WebhookMessage{Text: head, Blocks: &slack.Blocks{BlockSet: blocks}}
}

func slackSection(text string) *slack.SectionBlock {
	return slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, clip(text, slackSectionMax), false, false), nil, nil)
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning
// (https://api.slack.com/reference/surfaces/formatting#escaping).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func severityMark(sev string) string {
	switch sev {
	case "critical":
		return ":red_circle:"
	case "high":
		return ":large_orange_circle:"
	case "medium":
		return ":large_yellow_circle:"
	}
	return ":white_circle:"
}

// clip shortens s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// teamsMessage is the body a Teams Workflows webhook ("Post to a channel
// when a webhook request is received") accepts: a message with one
// Adaptive Card attachment.
func teamsMessage(dest Destination, d *inventory.Diff, heartbeat bool) *TeamsMessage {
	card := AdaptiveCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: "1.4",
		Body: []CardElement{
			{Type: "TextBlock", Text: title(d, heartbeat), Size: "Medium", Weight: "Bolder", Wrap: true},
			{Type: "TextBlock", Text: report.DiffWindow(d) + " · " + openNow(d), IsSubtle: true, Spacing: "None", Wrap: true},
		},
	}
	if !heartbeat {
		ls := lines(d, dest.LinkTemplate)
		shown := min(len(ls), dest.limit())
		for _, l := range ls[:shown] {
			text := teamsEscape(l.Text)
			if l.Link != "" {
				text += " [view](" + l.Link + ")"
			}
			el := CardElement{Type: "TextBlock", Text: "**" + strings.ToUpper(l.Severity) + "** " + text, Wrap: true}
			if l.Severity == "critical" || l.Severity == "high" {
				el.Color = "Attention"
			}
			card.Body = append(card.Body, el)
		}
		if more := len(ls) - shown; more > 0 {
			card.Body = append(card.Body, CardElement{Type: "TextBlock", IsSubtle: true, Wrap: true,
				Text: fmt.Sprintf("and %d more (nhi diff --from %d --to %d)", more, d.From.ID, d.To.ID)})
		}
	}
	return &TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive",
		Content:     card,
	}}}
}

// teamsEscape keeps an item's text from being read as markdown
// (Adaptive Card TextBlocks render a markdown subset).
func teamsEscape(s string) string {
	return strings.NewReplacer("*", "\\*", "_", "\\_", "[", "\\[", "]", "\\]", "`", "\\`").Replace(s)
}

// TeamsMessage is the envelope a Teams Workflows webhook takes.
type TeamsMessage struct {
	Type        string            `json:"type"`
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment carries one Adaptive Card.
type TeamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is the part of the Adaptive Card schema (version 1.4,
// the one Teams renders) that nhi's messages use.
type AdaptiveCard struct {
	Schema  string        `json:"$schema"`
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Body    []CardElement `json:"body"`
}

// CardElement is a TextBlock of an Adaptive Card.
type CardElement struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Size     string `json:"size,omitempty"`
	Weight   string `json:"weight,omitempty"`
	Color    string `json:"color,omitempty"`
	IsSubtle bool   `json:"isSubtle,omitempty"`
	Spacing  string `json:"spacing,omitempty"`
	Wrap     bool   `json:"wrap,omitempty"`
}

// WebhookPayload is the body of a generic webhook: a Standard Webhooks
// envelope ({type, timestamp, data}) around the Diff document, every item
// included.
type WebhookPayload struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      *inventory.Diff `json:"data"`
}

// Webhook event types.
const (
	EventDiff      = "nhi.diff"
	EventHeartbeat = "nhi.heartbeat"
)

func webhookPayload(d *inventory.Diff, heartbeat bool) WebhookPayload {
	p := WebhookPayload{Type: EventDiff, Timestamp: time.Now().UTC().Truncate(time.Second), Data: d}
	if heartbeat {
		p.Type = EventHeartbeat
	}
	if d.To.FinishedAt != nil {
		p.Timestamp = d.To.FinishedAt.UTC()
	}
	return p
}
