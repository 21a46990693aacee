package endpoints

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/outbound/signing"
)

// FuzzStandardWebhooks runs Standard Webhooks verification on arbitrary
// webhook-id, webhook-timestamp and webhook-signature values and bodies:
// it never panics, refuses only with a 401, accepts only a list holding
// the exact signature of a timestamp within the tolerance, and always
// accepts such a list whatever other entries it holds.
func FuzzStandardWebhooks(f *testing.F) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	now := time.Unix(1_750_000_000, 0)
	signer, err := signing.NewSigner(secret)
	if err != nil {
		f.Fatal(err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	body := []byte(`{"id": "o-1"}`)
	valid := signer.StandardSignature("msg_1", now.Unix(), body)
	f.Add("msg_1", ts, valid, body)
	f.Add("msg_1", ts, "v1,AAAA v1a,zzz "+valid+" v2,x", body)
	f.Add("msg_1", ts, "v1,AAAA v2,BBBB", body)
	f.Add("msg_1", "1749999600", valid, body)
	f.Add("msg_1", "+1750000000", valid, body)
	f.Add("msg_1", "-9223372036854775808", "v1,", []byte{})
	f.Add("", "", "", []byte(nil))
	f.Add("msg_\x00", "17500000000000000000000", "v1,\t"+valid+"\n", body)
	f.Fuzz(func(t *testing.T, id, stamp, sigs string, b []byte) {
		v := Verification{Type: VerifyStandardWebhooks, Secret: secret}
		sub := func(list string) Submission {
			h := http.Header{}
			h.Set(headerWebhookID, id)
			h.Set(headerWebhookTimestamp, stamp)
			h.Set(headerWebhookSignature, list)
			return Submission{Header: h, Body: b}
		}
		sec, perr := strconv.ParseInt(stamp, 10, 64)
		inTime := perr == nil && id != "" && sec >= now.Unix()-300 && sec <= now.Unix()+300
		want := ""
		if inTime {
			want = signer.StandardSignature(id, sec, b)
		}
		err := v.verify(sub(sigs), now, 5*time.Minute)
		if err != nil {
			if !apperr.IsCode(err, apperr.CodeUnauthorized) {
				t.Fatalf("refusal is not a 401: %v", err)
			}
		} else if !inTime || !containsField(sigs, want) {
			t.Fatalf("accepted id %q ts %q sigs %q without the signature %q", id, stamp, sigs, want)
		}
		if inTime {
			if err := v.verify(sub(sigs+" "+want), now, 5*time.Minute); err != nil {
				t.Fatalf("a list holding the signature was refused: %v", err)
			}
		}
	})
}

func containsField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}
