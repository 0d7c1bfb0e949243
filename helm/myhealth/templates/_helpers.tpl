{{/* Chart name, truncated to the 63 characters a label value may have. */}}
{{- define "myhealth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object-name prefix: the release name, plus the chart name when it is not already in it. */}}
{{- define "myhealth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "myhealth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "myhealth.labels" -}}
helm.sh/chart: {{ include "myhealth.chart" . }}
app.kubernetes.io/name: {{ include "myhealth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: myhealth
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component: name + instance + component, nothing that changes. */}}
{{- define "myhealth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "myhealth.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Labels of one component's objects. Call with (dict "root" $ "component" "api"). */}}
{{- define "myhealth.componentLabels" -}}
{{ include "myhealth.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Name of a component's objects: <fullname>-<component>. */}}
{{- define "myhealth.componentName" -}}
{{- printf "%s-%s" (include "myhealth.fullname" .root) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* repo@sha256:… when a digest is set; the EKS environments require one (requireDigest). */}}
{{- define "myhealth.image" -}}
{{- if and .Values.image.requireDigest (not .Values.image.digest) }}
{{- fail "image.digest is required (image.requireDigest): CI writes dev's, staging and prod are promoted by pull request" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* SPIFFE principal of a ServiceAccount, as Istio's AuthorizationPolicy names it. */}}
{{- define "myhealth.principal" -}}
{{- printf "cluster.local/ns/%s/sa/%s" .namespace .serviceAccount }}
{{- end }}

{{/* In-cluster URL of the processor, for the collector's PROCESSOR_URL. */}}
{{- define "myhealth.processorUrl" -}}
{{- printf "http://%s.%s.svc.cluster.local:%v" (include "myhealth.componentName" (dict "root" . "component" "processor")) .Release.Namespace .Values.processor.port }}
{{- end }}

{{/* Secret names (fixed, whichever way the Secrets are made). */}}
{{- define "myhealth.secretName" -}}
{{- printf "%s-%s" (include "myhealth.fullname" .root) .name }}
{{- end }}

{{/*
DATABASE_URL from a user and a password. Used twice: by Helm for plain Secrets, and escaped
into an ExternalSecret template, where ESO fills in the user and the password.
*/}}
{{- define "myhealth.databaseUrl" -}}
{{- printf "postgresql://%s:%s@%s:%v/%s?sslmode=%s" .user .password (required "database.host is required" .root.Values.database.host) .root.Values.database.port .root.Values.database.name .root.Values.database.sslMode }}
{{- end }}

{{/* Pod annotations for the Istio proxy of run-to-completion pods. */}}
{{- define "myhealth.jobMeshAnnotations" -}}
{{- if and .Values.istio.enabled .Values.istio.nativeSidecars -}}
sidecar.istio.io/nativeSidecar: "true"
{{- end }}
{{- end }}

{{/* Pod labels that ask Istio for a sidecar when the mesh is on. */}}
{{- define "myhealth.meshPodLabels" -}}
{{- if .Values.istio.enabled -}}
sidecar.istio.io/inject: "true"
{{- end }}
{{- end }}

{{/* Volumes every app pod mounts: a small writable /tmp under a read-only root. */}}
{{- define "myhealth.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 64Mi
{{- end }}

{{/* Scheduling settings shared by every pod. */}}
{{- define "myhealth.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Spread replicas over zones and nodes (soft, so a small cluster still schedules them). */}}
{{- define "myhealth.topologySpread" -}}
{{- $values := index .root.Values .component }}
{{- if and $values.topologySpread.enabled (or $values.autoscaling.enabled (gt (int $values.replicaCount) 1)) }}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "myhealth.selectorLabels" . | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "myhealth.selectorLabels" . | nindent 8 }}
    matchLabelKeys: [pod-template-hash]
{{- end }}
{{- end }}

{{/*
Scrape over Istio mTLS with the workload certificate that Prometheus' own sidecar writes
(Istio's documented "Prometheus with mTLS" setup). Istio certificates carry SPIFFE URIs, not
host names, hence insecureSkipVerify: the CA still has to sign them.
*/}}
{{- define "myhealth.istioScrapeTls" -}}
{{- $dir := .Values.istio.prometheusMtls.certDir -}}
scheme: https
tlsConfig:
  caFile: {{ $dir }}/root-cert.pem
  certFile: {{ $dir }}/cert-chain.pem
  keyFile: {{ $dir }}/key.pem
  insecureSkipVerify: true
{{- end }}

{{/*
Metadata of a pod template: component labels, the mesh label, podLabels; the given
annotations, the mesh annotations for run-to-completion pods, podAnnotations.
Call with (dict "root" $ "component" "api" "annotations" (dict ...) "job" true).
*/}}
{{- define "myhealth.podMetadata" -}}
{{- $root := .root }}
{{- $labels := merge (dict) (include "myhealth.componentLabels" . | fromYaml) (include "myhealth.meshPodLabels" $root | fromYaml) $root.Values.podLabels }}
{{- $annotations := merge (dict) (default (dict) .annotations) $root.Values.podAnnotations }}
{{- if .job }}
{{- $annotations = merge $annotations (include "myhealth.jobMeshAnnotations" $root | fromYaml) }}
{{- end -}}
labels:
  {{- toYaml $labels | nindent 2 }}
{{- with $annotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The store the ExternalSecrets read: the chart's SecretStore, or the configured one. */}}
{{- define "myhealth.secretStoreRef" -}}
{{- if .Values.externalSecrets.secretStore.create -}}
kind: SecretStore
name: {{ include "myhealth.fullname" . }}
{{- else -}}
kind: {{ .Values.externalSecrets.secretStoreRef.kind }}
name: {{ .Values.externalSecrets.secretStoreRef.name }}
{{- end }}
{{- end }}

{{/* ConfigMap name of one dashboard file (file names may hold characters names may not). */}}
{{- define "myhealth.dashboardConfigMap" -}}
{{- $file := base .path | trimSuffix ".json" | lower | replace "_" "-" | replace "." "-" }}
{{- printf "%s-dashboard-%s" (include "myhealth.fullname" .root) $file | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The migration hook runs before the release's ordinary objects exist, so when the chart makes
the Secrets it also makes one for the hook, as a hook itself. That Secret (or its
ExternalSecret) is deleted once the hooks succeeded: the master login's URL stays in the
cluster no longer than the migration needs it, and `helm uninstall` leaves no copy behind.
*/}}
{{- define "myhealth.migrationSecret" -}}
{{- if or .Values.externalSecrets.enabled .Values.secrets.create }}
{{- include "myhealth.secretName" (dict "root" . "name" "migrate") }}
{{- else }}
{{- include "myhealth.secretName" (dict "root" . "name" "database") }}
{{- end }}
{{- end }}

{{- define "myhealth.migrationHook" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: {{ .policy }}
{{- end }}

{{/* The ServiceAccount of one component, with its IRSA role and hook annotations if any. */}}
{{- define "myhealth.serviceAccount" -}}
{{- $ctx := dict "root" .root "component" .component }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "myhealth.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "myhealth.componentLabels" $ctx | nindent 4 }}
  {{- if or .roleArn .hook }}
  annotations:
    {{- with .roleArn }}
    eks.amazonaws.com/role-arn: {{ . | quote }}
    {{- end }}
    {{- with .hook }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}

{{/*
Stakater Reloader rolls the workload when a Secret or ConfigMap it reads changes: External
Secrets refreshes a rotated password into the Secret, but env vars are read only at start.
*/}}
{{- define "myhealth.reloaderAnnotations" -}}
{{- if .Values.reloader.enabled -}}
reloader.stakater.com/auto: "true"
{{- end }}
{{- end }}
