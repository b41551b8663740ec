{{/*
Shared pieces of every workload. Each component's own templates name their values explicitly
(.Values.matcher.…), so tests/deploy can check every reference against values and schema.
*/}}

{{- define "samenloop.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels; call with (dict "root" $ "component" "matcher"). */}}
{{- define "samenloop.labels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/component: {{ .component }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "samenloop.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "samenloop.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "samenloop.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end -}}

{{- define "samenloop.containerSecurityContext" -}}
{{ toYaml .Values.containerSecurityContext }}
{{- end -}}

{{/*
Secret files reach the service through an init container: Kubernetes mounts Secrets
root-owned, or group-readable under fsGroup, and samenloop refuses a key file that group or
others can read (ADR 0020). The init container (same image, same non-root user) copies them
into a memory-backed emptyDir as 0600 files the service user owns.
Call with (dict "root" $ "secrets" (list "tls" "keys")).
*/}}
{{- define "samenloop.secretsInit" -}}
- name: install-secrets
  image: {{ include "samenloop.image" .root }}
  imagePullPolicy: {{ .root.Values.image.pullPolicy }}
  command: ["sh", "-ec"]
  args:
    - |
      umask 077
      for dir in /secrets/*/; do
        name=$(basename "$dir")
        mkdir -p "/run/samenloop/$name"
        for file in "$dir"*; do
          install -m 0600 "$file" "/run/samenloop/$name/$(basename "$file")"
        done
      done
  securityContext:
    {{- include "samenloop.containerSecurityContext" .root | nindent 4 }}
  resources:
    requests: {cpu: 10m, memory: 16Mi}
    limits: {cpu: 100m, memory: 64Mi}
  volumeMounts:
    - name: run-secrets
      mountPath: /run/samenloop
    {{- range .secrets }}
    - name: secret-{{ . }}
      mountPath: /secrets/{{ . }}
      readOnly: true
    {{- end }}
{{- end -}}

{{/* The plaintext health port and the probes on it. */}}
{{- define "samenloop.probes" -}}
livenessProbe:
  httpGet: {path: /healthz, port: health}
  periodSeconds: 10
  timeoutSeconds: 5
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: health}
  periodSeconds: 5
  timeoutSeconds: 5
  failureThreshold: 2
startupProbe:
  httpGet: {path: /healthz, port: health}
  periodSeconds: 2
  failureThreshold: 60
{{- end -}}

{{/* Environment every service gets: trace export only with an endpoint. */}}
{{- define "samenloop.env" -}}
- name: SAMENLOOP_HEALTH_PORT
  value: {{ .Values.health.port | quote }}
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
{{- end -}}

{{/* What the chart writes into every service's configuration. */}}
{{- define "samenloop.managedConfig" -}}
health:
  bind: {{ printf "0.0.0.0:%v" .Values.health.port | quote }}
  metrics: {{ .Values.metrics.enabled }}
tls:
  ca: /run/samenloop/tls/ca.crt
  cert: /run/samenloop/tls/tls.crt
  key: /run/samenloop/tls/tls.key
{{- end -}}

{{/* NetworkPolicy egress rules every component needs: DNS, and the trace collector if any. */}}
{{- define "samenloop.commonEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dnsNamespaceSelector | nindent 10 }}
      podSelector:
        matchLabels:
          {{- toYaml .Values.networkPolicy.dnsPodSelector | nindent 10 }}
  ports:
    - {protocol: UDP, port: 53}
    - {protocol: TCP, port: 53}
{{- if and .Values.otel.endpoint .Values.otel.collectorCidrs }}
- to:
    {{- range .Values.otel.collectorCidrs }}
    - ipBlock: {cidr: {{ . | quote }}}
    {{- end }}
  ports:
    - {protocol: TCP, port: {{ .Values.otel.collectorPort }}}
{{- end }}
{{- end -}}

{{/* Ingress to the health port's /metrics from the monitoring namespace, when enabled. */}}
{{- define "samenloop.metricsIngress" -}}
{{- if .Values.metrics.enabled }}
- from:
    - namespaceSelector:
        matchLabels:
          {{- toYaml .Values.metrics.scrapeNamespaceSelector | nindent 10 }}
  ports:
    - {protocol: TCP, port: {{ .Values.health.port }}}
{{- end }}
{{- end -}}

{{/* A cert-manager Certificate; call with (dict "root" $ "component" C "name" N "role" R "organisation" O). */}}
{{- define "samenloop.certificate" -}}
{{- if .root.Values.certManager.enabled }}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: {{ include "samenloop.fullname" .root }}-{{ .component }}-tls
  labels:
    {{- include "samenloop.labels" (dict "root" .root "component" .component) | nindent 4 }}
spec:
  secretName: {{ include "samenloop.fullname" .root }}-{{ .component }}-tls
  commonName: {{ .name }}
  dnsNames:
    - {{ printf "%s.samenloop.internal" .name }}
  subject:
    organizations: [{{ .organisation | quote }}]
    organizationalUnits: [{{ .role | quote }}]
  usages: ["server auth", "client auth", "digital signature", "key encipherment"]
  privateKey:
    algorithm: ECDSA
    size: 256
    rotationPolicy: Always
  duration: {{ .root.Values.certManager.duration }}
  renewBefore: {{ .root.Values.certManager.renewBefore }}
  issuerRef:
    {{- toYaml .root.Values.certManager.issuerRef | nindent 4 }}
{{- end }}
{{- end -}}

{{/*
The Secret a component's files come from: an existing one (cert-manager, External Secrets,
sealed secrets), the chart's own (from `files`, e.g. `--set-file`), or for TLS the chart's
cert-manager Certificate. Call with
(dict "root" $ "component" C "kind" "tls"|"keys" "existing" NAME "files" MAP).
*/}}
{{- define "samenloop.secretName" -}}
{{- if .existing -}}
{{ .existing }}
{{- else if and (eq .kind "tls") .root.Values.certManager.enabled -}}
{{ include "samenloop.fullname" .root }}-{{ .component }}-tls
{{- else if .files -}}
{{ include "samenloop.fullname" .root }}-{{ .component }}-{{ .kind }}
{{- else -}}
{{ fail (printf "%s.%s: name an existingSecret or give the files (see the chart README)" .component .kind) }}
{{- end -}}
{{- end -}}

{{/* A Secret made from `files` (raw file contents), unless an existing one is named. */}}
{{- define "samenloop.filesSecret" -}}
{{- if and .files (not .existing) (not (and (eq .kind "tls") .root.Values.certManager.enabled)) }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "samenloop.fullname" .root }}-{{ .component }}-{{ .kind }}
  labels:
    {{- include "samenloop.labels" (dict "root" .root "component" .component) | nindent 4 }}
type: Opaque
data:
  {{- range $name, $content := .files }}
  {{ $name }}: {{ $content | b64enc }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* matcher.yaml: the operator's settings, with the paths and ports the chart mounts. */}}
{{- define "samenloop.matcherConfig" -}}
{{- $managed := fromYaml (include "samenloop.managedConfig" .) }}
{{- $_ := set $managed "bind" (printf "0.0.0.0:%v" .Values.matcher.port) }}
{{- $_ := set $managed "data_dir" "/data" }}
{{- $_ := set $managed "signing_key" "/run/samenloop/keys/signing.key" }}
{{- $_ := set $managed "hmac_key" "/run/samenloop/keys/hmac.key" }}
{{- $_ := set $managed "audit" (dict "checkpoint_key" "/run/samenloop/keys/checkpoint.key") }}
{{- $_ := set $managed "officer_trust" "/config/officers.yaml" }}
{{- toYaml (mustMergeOverwrite (deepCopy .Values.matcher.config) $managed) }}
{{- end -}}
