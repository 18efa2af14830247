// SPDX-License-Identifier: GPL-2.0
#include "timeout.h"

namespace pw {

void timeout_fire(void *arg)
{
	static_cast<Irp *>(arg)->cancel(err::ETIMEDOUT, true);
}

} // namespace pw
