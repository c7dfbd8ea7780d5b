{{/* The release's objects are named after it: <release>, or <release>-dataos. */}}
{{- define "dataos.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "dataos.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dataos.labels" -}}
{{ include "dataos.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: dataos
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dataos.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* What this chart cannot do yet, refused at render time in one line. */}}
{{- define "dataos.check" -}}
{{- if ne .Values.mode "monolithic" -}}
{{- fail (printf "mode %s: the kernel's services as Deployments of their own (microservices) are not built yet; use mode: monolithic" .Values.mode) -}}
{{- end -}}
{{- if and (not .Values.database.existingSecret) (not .Values.postgresql.enabled) -}}
{{- fail "database.existingSecret: name the Secret holding the PostgreSQL URL (or set postgresql.enabled for a trial)" -}}
{{- end -}}
{{- end -}}

{{- define "dataos.databaseSecret" -}}
{{- if .Values.database.existingSecret -}}{{ .Values.database.existingSecret }}{{- else -}}{{ include "dataos.fullname" . }}-database{{- end -}}
{{- end -}}

{{- define "dataos.keysSecret" -}}
{{- if .Values.keys.existingSecret -}}{{ .Values.keys.existingSecret }}{{- else -}}{{ include "dataos.fullname" . }}-keys{{- end -}}
{{- end -}}

{{- define "dataos.tlsSecret" -}}
{{- if .Values.tls.existingSecret -}}{{ .Values.tls.existingSecret }}{{- else -}}{{ include "dataos.fullname" . }}-tls{{- end -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container of this chart. */}}
{{- define "dataos.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
