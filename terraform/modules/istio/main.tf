# Istio through the helm provider: base (CRDs), istiod with native sidecars, and an ingress
# gateway whose Service is ClusterIP: the internal NLB reaches its pods by IP through a
# TargetGroupBinding (api-gateway module), so no cloud load balancer is created from here.
locals {
  gateway_namespace = "istio-ingress"
}

resource "helm_release" "base" {
  name             = "istio-base"
  repository       = var.chart_repository
  chart            = "base"
  version          = var.istio_version
  namespace        = "istio-system"
  create_namespace = true
  atomic           = true
  wait             = true
}

resource "helm_release" "istiod" {
  name       = "istiod"
  repository = var.chart_repository
  chart      = "istiod"
  version    = var.istio_version
  namespace  = "istio-system"
  atomic     = true
  wait       = true

  values = [yamlencode({
    meshConfig = {
      trustDomain       = var.mesh_id
      accessLogFile     = var.access_logging ? "/dev/stdout" : ""
      accessLogEncoding = "JSON"
      defaultConfig = {
        # Apps start only after their proxy is ready, and stop before it.
        holdApplicationUntilProxyStarts = true
      }
    }
    pilot = {
      autoscaleMin = 1
      env = {
        # Sidecars as Kubernetes native sidecars (restartable init containers): Jobs and
        # CronJobs in the mesh (the collector) complete instead of waiting on the proxy.
        ENABLE_NATIVE_SIDECARS = "true"
      }
    }
  })]

  depends_on = [helm_release.base]
}

resource "helm_release" "ingress_gateway" {
  name             = "istio-ingressgateway"
  repository       = var.chart_repository
  chart            = "gateway"
  version          = var.istio_version
  namespace        = local.gateway_namespace
  create_namespace = true
  atomic           = true
  wait             = true

  values = [yamlencode({
    service = {
      type = "ClusterIP"
    }
    autoscaling = {
      enabled     = true
      minReplicas = var.ingress_gateway_replicas
      maxReplicas = var.ingress_gateway_replicas * 2
    }
    resources = {
      requests = { cpu = "100m", memory = "128Mi" }
      limits   = { cpu = "1", memory = "512Mi" }
    }
    podDisruptionBudget = {
      minAvailable = 1
    }
  })]

  depends_on = [helm_release.istiod]
}
