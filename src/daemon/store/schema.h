// The store's schema as SQL migrations (store.h): entry i takes a database from version i to
// version i + 1; kSchemaVersion entries in all.
#pragma once

#include <span>

namespace vessel::daemon {

std::span<const char* const> schema_migrations();

}  // namespace vessel::daemon
