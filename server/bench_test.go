package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookline/hookline/internal/apitest"
)

// BenchmarkCreateCustomer is POST /v1/customers end to end over a real
// loopback connection: auth, validation, the uniqueness script, the event
// log. allocs/op counts the whole process (client and server).
func BenchmarkCreateCustomer(b *testing.B) {
	api := apitest.New(b)
	k := api.NewAccount("Bench").Key
	url := api.URL() + "/v1/customers"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			body := fmt.Sprintf(`{"name":"Customer %d","email":"c%d@example.com","phone":"+1 555 %04d"}`, i, i, i%10000)
			req, _ := http.NewRequest("POST", url, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+k)
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 201 {
				b.Fatalf("status %d", res.StatusCode)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}
