/* SPDX-License-Identifier: Apache-2.0 */
/* Connects the Shield's detections to the audit trail and the webhook outbox. */
#ifndef HW_SHIELD_SHIELD_AUDIT_H
#define HW_SHIELD_SHIELD_AUDIT_H

struct hw_store;

/* From now on every detection is appended to its workspace's audit chain and emitted as
 * `security.event`; NULL goes back to logging only. */
void hw_shield_audit_attach(struct hw_store *st);

#endif
