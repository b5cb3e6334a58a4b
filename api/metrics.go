package api

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the service's Prometheus metrics, in a registry of its own
// so that two servers in one test process do not collide.
type metrics struct {
	reg      *prometheus.Registry
	uploads  *prometheus.CounterVec
	bytes    prometheus.Counter
	steps    *prometheus.HistogramVec
	failures *prometheus.CounterVec
	// authFailures counts requests refused for an unknown or expired
	// token.
	authFailures prometheus.Counter
	// retired counts dumps deleted for their age (the retention).
	retired prometheus.Counter
	depth   func() float64
	// free reads the data directory's free bytes.
	free func() float64
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.uploads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmcored_uploads_total",
		Help: "Uploads by outcome: started, completed, duplicate, corrupt (SHA-256 mismatch), expired."}, []string{"outcome"})
	m.authFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmcored_auth_failures_total",
		Help: "Requests with an unknown or expired token."})
	m.retired = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmcored_retention_deleted_total",
		Help: "Dumps deleted because they were older than the retention."})
	m.bytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "vmcored_upload_bytes_total",
		Help: "Dump bytes received through the API (presigned S3 parts bypass it)."})
	m.steps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vmcored_analysis_step_seconds",
		Help: "Duration of each analysis step.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, []string{"step"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vmcored_analysis_failures_total",
		Help: "Analysis steps that failed."}, []string{"step"})
	m.reg.MustRegister(m.uploads, m.bytes, m.steps, m.failures, m.authFailures, m.retired, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vmcored_queue_depth",
			Help: "Analysis jobs waiting or running."}, func() float64 {
			if m.depth == nil {
				return 0
			}
			return m.depth()
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vmcored_data_free_bytes",
			Help: "Free bytes on the data directory's filesystem (/readyz fails below --min-free-space)."}, func() float64 {
			if m.free == nil {
				return 0
			}
			return m.free()
		}))
	return m
}

func (m *metrics) handler() http.Handler { return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}) }
