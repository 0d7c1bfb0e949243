{{/* Metadata of one NetworkPolicy. */}}
{{- define "myhealth.netpolMeta" -}}
metadata:
  name: {{ include "myhealth.fullname" .root }}-{{ .name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "myhealth.labels" .root | nindent 4 }}
{{- end }}

{{/* Peers that scrape /metrics: the monitoring namespace and the in-chart Prometheus. */}}
{{- define "myhealth.netpolScrapers" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .Values.monitoring.namespace }}
{{- if .Values.prometheus.enabled }}
- podSelector:
    matchLabels:
      {{- include "myhealth.selectorLabels" (dict "root" . "component" "prometheus") | nindent 6 }}
{{- end }}
{{- end }}
