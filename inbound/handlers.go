package inbound

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/customers"
	"github.com/hookline/hookline/app/httpapi"
)

type handlers struct{ svc *Service }

func (h *handlers) list(c *fiber.Ctx) error {
	return c.JSON(httpapi.NewPage(Actions, ""))
}

func (h *handlers) run(c *fiber.Ctx) error {
	body, err := httpapi.JSONBody(c)
	if err != nil {
		return err
	}
	input, err := decodeBody(body)
	if err != nil {
		return err
	}
	out, err := h.svc.Run(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "action"), input, OriginFrom(c))
	if err != nil {
		return err
	}
	status, resp := Response(out)
	return c.Status(status).JSON(resp)
}

// decodeBody reads an action's JSON body into its input, keeping numbers
// exact (json.Number), so publish_event's data is stored as sent.
func decodeBody(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var input map[string]any
	if err := dec.Decode(&input); err != nil || input == nil {
		return nil, apperr.BadRequest("the request body must be a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apperr.BadRequest("the request body must be a JSON object")
	}
	return input, nil
}

// Response is an action's outcome as the actions API answers it: 201 when
// a customer was created, 202 with the event's id, type and time for
// publish_event, otherwise 200; find_customer answers its page of
// matches. A customer action answers the customer with echo (whether the
// write was suppressed) to a caller holding read:customer, and only
// {"id", "echo"} to anyone else (a Taken write answers like a success:
// see Outcome.Taken). Inbound endpoints answer the public and render
// their own "accepted" body instead.
func Response(o Outcome) (status int, body any) {
	switch {
	case o.Event != nil:
		return http.StatusAccepted, publishedResponse{ID: o.Event.ID, Type: o.Event.Type, CreatedAt: o.Event.CreatedAt}
	case o.Taken:
		status = http.StatusOK
		if o.Created {
			status = http.StatusCreated
		}
		return status, actionMinimal{ID: o.AnswerID}
	case o.Customer != nil:
		status = http.StatusOK
		if o.Created {
			status = http.StatusCreated
		}
		if !o.Readable {
			return status, actionMinimal{ID: o.Customer.ID, Echo: o.Echo}
		}
		return status, actionCustomer{Customer: *o.Customer, Echo: o.Echo}
	}
	return http.StatusOK, httpapi.NewPage(o.Customers, "")
}

// actionMinimal is a customer action's answer to a caller that may not
// read customers: the id written (or matched) and echo, no fields.
type actionMinimal struct {
	ID   string `json:"id"`
	Echo bool   `json:"echo"`
}

// actionCustomer is a customer as actions answer it: echo says whether the
// write was suppressed.
type actionCustomer struct {
	customers.Customer
	Echo bool `json:"echo"`
}

type publishedResponse struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
}

type incidentResponse struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Status     string     `json:"status"`
	Resource   string     `json:"resource"`
	Chain      *string    `json:"chain"`
	Credential *string    `json:"credential,omitempty"`
	Endpoint   *string    `json:"endpoint,omitempty"`
	Paused     bool       `json:"paused"`
	Suppressed int        `json:"suppressed"`
	Events     []string   `json:"events"`
	Deliveries []string   `json:"deliveries"`
	Message    string     `json:"message"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ResolvedAt *time.Time `json:"resolved_at"`
}

func newIncidentResponse(inc Incident) incidentResponse {
	r := incidentResponse{ID: inc.ID, Kind: "loop", Status: inc.Status, Resource: inc.Resource,
		Paused: inc.Pausing(), Suppressed: inc.Suppressed, Message: inc.Message(),
		Events: inc.Events, Deliveries: inc.Deliveries, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt,
		ResolvedAt: httpapi.Time(inc.ResolvedAt)}
	if inc.Chain != "" {
		r.Chain = &inc.Chain
	}
	if inc.Credential != "" {
		r.Credential = &inc.Credential
	}
	if inc.Endpoint != "" {
		r.Endpoint = &inc.Endpoint
	}
	return r
}

func (h *handlers) incidents(c *fiber.Ctx) error {
	return httpapi.List(c, func(after string, limit int) ([]Incident, string, error) {
		return h.svc.Incidents(c.UserContext(), httpapi.Principal(c), after, limit)
	}, newIncidentResponse)
}

func (h *handlers) resolve(c *fiber.Ctx) error {
	inc, err := h.svc.Resolve(c.UserContext(), httpapi.Principal(c), httpapi.Param(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(newIncidentResponse(inc))
}
