{{/*
The env of each command (docs/architecture.md#configuration): shared settings from the ConfigMap, secrets by key.
*/}}
{{- define "myhealth.secretEnv" -}}
- name: {{ .key }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end }}

{{- define "myhealth.env.processor" -}}
- name: HOST
  value: 0.0.0.0
- name: PORT
  value: {{ .Values.processor.port | quote }}
{{ include "myhealth.secretEnv" (dict "key" "DATABASE_URL" "secret" (include "myhealth.secretName" (dict "root" . "name" "database"))) }}
{{ include "myhealth.secretEnv" (dict "key" "INGEST_TOKEN" "secret" (include "myhealth.secretName" (dict "root" . "name" "ingest"))) }}
{{- with .Values.processor.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "myhealth.env.api" -}}
- name: HOST
  value: 0.0.0.0
- name: PORT
  value: {{ .Values.api.port | quote }}
{{ include "myhealth.secretEnv" (dict "key" "DATABASE_URL" "secret" (include "myhealth.apiDatabaseSecret" .)) }}
{{ include "myhealth.secretEnv" (dict "key" "API_KEY" "secret" (include "myhealth.secretName" (dict "root" . "name" "api"))) }}
{{ include "myhealth.secretEnv" (dict "key" "JWT_SECRET" "secret" (include "myhealth.secretName" (dict "root" . "name" "api"))) }}
{{- with .Values.api.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "myhealth.env.collector" -}}
{{- $oura := include "myhealth.secretName" (dict "root" . "name" "oura") -}}
{{ include "myhealth.secretEnv" (dict "key" "DATABASE_URL" "secret" (include "myhealth.secretName" (dict "root" . "name" "database"))) }}
{{ include "myhealth.secretEnv" (dict "key" "INGEST_TOKEN" "secret" (include "myhealth.secretName" (dict "root" . "name" "ingest"))) }}
{{ include "myhealth.secretEnv" (dict "key" "OURA_CLIENT_ID" "secret" $oura) }}
{{ include "myhealth.secretEnv" (dict "key" "OURA_CLIENT_SECRET" "secret" $oura) }}
{{- /* Only needed until the first run has stored a token pair in the database. */}}
{{ include "myhealth.secretEnv" (dict "key" "OURA_REFRESH_TOKEN" "secret" (include "myhealth.secretName" (dict "root" . "name" "oura-tokens")) "optional" true) }}
{{- with .Values.collector.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "myhealth.env.migrate" -}}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{ include "myhealth.secretEnv" (dict "key" "DATABASE_URL" "secret" (include "myhealth.migrationSecret" .)) }}
{{- end }}

{{/*
The migration hook runs before the release's ordinary objects exist, so when the chart makes
the Secrets it also makes one for the hook, as a hook itself.
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

{{/* A container running one `myhealth` command with the shared hardening. */}}
{{- define "myhealth.container" -}}
- name: {{ .component }}
  image: {{ include "myhealth.image" .root }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  args: {{ toJson (concat (list .command) (default (list) .args)) }}
  {{- if not .noConfigMap }}
  envFrom:
    - configMapRef:
        name: {{ include "myhealth.fullname" .root }}
  {{- end }}
  env:
    {{- include (printf "myhealth.env.%s" .component) .root | nindent 4 }}
  securityContext:
    {{- toYaml .root.Values.containerSecurityContext | nindent 4 }}
  resources:
    {{- toYaml .resources | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}

{{/* Deployment of a long-running HTTP service (processor, api). */}}
{{- define "myhealth.deployment" -}}
{{- $root := .root }}
{{- $values := index $root.Values .component }}
{{- $ctx := dict "root" $root "component" .component }}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "myhealth.componentName" $ctx }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "myhealth.componentLabels" $ctx | nindent 4 }}
spec:
  {{- if not $values.autoscaling.enabled }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "myhealth.selectorLabels" $ctx | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 1
      maxUnavailable: 0
  template:
    metadata:
      {{- $checksum := dict "checksum/config" (include (print $root.Template.BasePath "/configmap.yaml") $root | sha256sum) }}
      {{- include "myhealth.podMetadata" (dict "root" $root "component" .component "annotations" $checksum) | nindent 6 }}
    spec:
      serviceAccountName: {{ include "myhealth.componentName" $ctx }}
      automountServiceAccountToken: false
      securityContext:
        {{- toYaml $root.Values.podSecurityContext | nindent 8 }}
      terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
      {{- with include "myhealth.scheduling" $root | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      {{- with include "myhealth.topologySpread" $ctx | trim }}
      {{- . | nindent 6 }}
      {{- end }}
      containers:
        {{- include "myhealth.container" (dict "root" $root "component" .component "command" .component "resources" $values.resources) | nindent 8 }}
          ports:
            - name: http
              containerPort: {{ $values.port }}
              protocol: TCP
          startupProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 2
            failureThreshold: 30
          livenessProbe:
            httpGet: {path: /health, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /ready, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          lifecycle:
            preStop:
              sleep:
                seconds: {{ $root.Values.preStopSleepSeconds }}
      volumes:
        {{- include "myhealth.tmpVolume" $root | nindent 8 }}
{{- end }}

{{- define "myhealth.service" -}}
{{- $values := index .root.Values .component }}
{{- $ctx := dict "root" .root "component" .component }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "myhealth.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "myhealth.componentLabels" $ctx | nindent 4 }}
spec:
  type: {{ .root.Values.service.type }}
  selector:
    {{- include "myhealth.selectorLabels" $ctx | nindent 4 }}
  ports:
    # The name's "http" prefix tells Istio the protocol.
    - name: http
      port: {{ $values.port }}
      targetPort: http
      protocol: TCP
      appProtocol: http
{{- end }}

{{- define "myhealth.hpa" -}}
{{- $values := index .root.Values .component }}
{{- $ctx := dict "root" .root "component" .component }}
{{- if $values.autoscaling.enabled }}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "myhealth.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "myhealth.componentLabels" $ctx | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "myhealth.componentName" $ctx }}
  minReplicas: {{ $values.autoscaling.minReplicas }}
  maxReplicas: {{ $values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $values.autoscaling.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end }}
{{- end }}

{{- define "myhealth.pdb" -}}
{{- $values := index .root.Values .component }}
{{- $ctx := dict "root" .root "component" .component }}
{{- if $values.podDisruptionBudget.enabled }}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "myhealth.componentName" $ctx }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "myhealth.componentLabels" $ctx | nindent 4 }}
spec:
  maxUnavailable: {{ $values.podDisruptionBudget.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "myhealth.selectorLabels" $ctx | nindent 6 }}
{{- end }}
{{- end }}

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
