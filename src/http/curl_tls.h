// Internal to vessel_http: the TLS part of a libcurl handle's options (client certificate and
// key, the pinned public key or the CA file), shared by the request client and the upgrade client.
#pragma once

#include <curl/curl.h>

#include "http/http.h"

namespace vessel::http {

void global_init();
void apply_tls_options(CURL* h, const ClientOptions& options);

}  // namespace vessel::http
