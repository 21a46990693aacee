package zapier

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/httpapi"
	"github.com/hookline/hookline/app/perm"
	"github.com/hookline/hookline/app/redact"
	"github.com/hookline/hookline/outbound"
)

// Register adds the REST Hooks routes to an authenticated router. need
// documents each route's permission; the outbound and event-log services
// check it again, with the event type's read permission.
func (s *Service) Register(r fiber.Router, need httpapi.Need) {
	r.Post("/zapier/hooks", need(perm.SubscribeWebhook), s.subscribe)
	r.Delete("/zapier/hooks/:id", need(perm.SubscribeWebhook), s.unsubscribe)
	r.Get("/zapier/samples/:event", need(perm.SubscribeWebhook), s.samples)
}

// subscribeRequest takes the hook URL under any of the names Zapier
// integrations use.
type subscribeRequest struct {
	HookURL    string `json:"hookUrl"`
	TargetURL  string `json:"targetUrl"`
	TargetURL2 string `json:"target_url"`
	Event      string `json:"event"`
}

type hookResponse struct {
	ID        string `json:"id"`
	Event     string `json:"event"`
	TargetURL string `json:"target_url"`
}

func (s *Service) subscribe(c *fiber.Ctx) error {
	body, err := httpapi.Body(c)
	if err != nil {
		return err
	}
	var req subscribeRequest
	if err := decodeLoose(body, &req); err != nil {
		return err
	}
	target := firstNonEmpty(req.HookURL, req.TargetURL, req.TargetURL2)
	var fields []apperr.FieldError
	if target == "" {
		fields = append(fields, apperr.FieldError{Field: "hookUrl", Message: "is required"})
	}
	if req.Event == "" {
		fields = append(fields, apperr.FieldError{Field: "event", Message: "is required"})
	}
	if len(fields) > 0 {
		return apperr.Invalid(fields...)
	}
	w, err := s.out.CreateWebhook(c.UserContext(), httpapi.Principal(c), outbound.NewWebhook{
		Name: "Zapier: " + req.Event, URL: target, Events: []string{req.Event},
		Source: outbound.SourceZapier, Active: true,
	})
	if err != nil {
		if ae := apperr.As(err); ae != nil {
			for i := range ae.Fields {
				switch {
				case ae.Fields[i].Field == "url":
					ae.Fields[i].Field = "hookUrl"
					ae.Message = strings.Replace(ae.Message, "url:", "hookUrl:", 1)
				case strings.HasPrefix(ae.Fields[i].Field, "events"):
					ae.Message = strings.Replace(ae.Message, ae.Fields[i].Field+":", "event:", 1)
					ae.Fields[i].Field = "event"
				}
			}
		}
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(hookResponse{ID: w.ID, Event: req.Event, TargetURL: redact.URL(w.URL)})
}

type deletedResponse struct {
	ID      string `json:"id"`
	Deleted bool   `json:"deleted"`
}

func (s *Service) unsubscribe(c *fiber.Ctx) error {
	w, err := s.out.RemoveWebhook(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"), outbound.SourceZapier, outbound.RemovedByPartner)
	if err != nil {
		return err
	}
	return c.JSON(deletedResponse{ID: w.ID, Deleted: true})
}

// samples answers Zapier's performList with a bare array: the account's
// latest events of the type, newest first, each exactly the envelope a live
// delivery carries; when there are none yet, the catalog's sample in that
// same shape.
func (s *Service) samples(c *fiber.Ctx) error {
	limit := 3
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return apperr.InvalidField("limit", "must be a whole number from 1 to 100")
		}
		limit = n
	}
	evs, err := s.Samples(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "event"), limit)
	if err != nil {
		return err
	}
	return c.JSON(evs)
}

// decodeLoose decodes a JSON object, ignoring unknown fields: Zapier
// integrations send extra keys (subscription data) we do not need.
func decodeLoose(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return apperr.BadRequest("the request body must be a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apperr.BadRequest("malformed JSON: " + strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
