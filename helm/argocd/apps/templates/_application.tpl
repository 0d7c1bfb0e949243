{{/*
One Argo CD Application. Call with (dict "root" $ "name" "metrics-server" "wave" -3
"namespace" "kube-system" "source" (dict ...) "extra" (dict ...)). Every Application syncs on
its own (prune, self-heal, retries) and finishes with its namespace created.
*/}}
{{- define "apps.application" -}}
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {{ .name }}
  namespace: argocd
  labels:
    app.kubernetes.io/part-of: myhealth
    myhealth.eric-n.com/environment: {{ .root.Values.aws.environment | quote }}
  annotations:
    argocd.argoproj.io/sync-wave: {{ .wave | quote }}
  finalizers:
    - resources-finalizer.argocd.argoproj.io
spec:
  project: {{ .root.Values.project }}
  source:
    {{- toYaml .source | nindent 4 }}
  destination:
    server: https://kubernetes.default.svc
    namespace: {{ .namespace }}
  {{- with .ignoreDifferences }}
  ignoreDifferences:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
      - CreateNamespace=true
      - ServerSideApply=true
      {{- range .syncOptions }}
      - {{ . }}
      {{- end }}
    {{- with .namespaceLabels }}
    managedNamespaceMetadata:
      labels:
        {{- toYaml . | nindent 8 }}
    {{- end }}
    retry:
      limit: 10
      backoff:
        duration: 10s
        factor: 2
        maxDuration: 5m
  revisionHistoryLimit: 10
{{- end }}

{{/* A required Terraform fact, with the error naming where it comes from. */}}
{{- define "apps.terraform" -}}
{{- required (printf "%s is required: pass helm/myhealth/infrastructure-<env>.json (Terraform output helm_values)" .key) .value -}}
{{- end }}
