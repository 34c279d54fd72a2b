/**
 * A permission request's buttons on its tool card, and how they look once
 * answered. For an approval gate, a field for why (sent with a reject). Builds
 * elements only; the controller decides what a click does.
 */

import type { PermissionOption } from "../client.js";
import { el, token } from "./dom.js";
import type { PermissionPrompt } from "./protocol.js";

/** ACP option kinds that say no. */
export const isRejection = (option: Pick<PermissionOption, "kind">): boolean => option.kind.startsWith("reject");

export function permissionBox(doc: Document, request: PermissionPrompt): HTMLElement {
  const box = el(doc, "div", "permission");
  box.dataset.requestId = request.requestId;
  box.append(el(doc, "span", "permission-question", request.gate ? `Approve task ${request.gate.task}?` : "Allow?"));
  if (request.gate) {
    const feedback = el(doc, "input", "feedback");
    feedback.type = "text";
    feedback.placeholder = "Why? (sent with a reject)";
    feedback.setAttribute("aria-label", `Why task ${request.gate.task} is rejected`);
    box.append(feedback);
  }
  for (const option of request.options) {
    const button = el(doc, "button", `permission-option kind-${token(option.kind)}`, option.name);
    button.type = "button";
    button.dataset.action = "permission";
    button.dataset.requestId = request.requestId;
    button.dataset.optionId = option.optionId;
    button.dataset.kind = option.kind;
    box.append(button);
  }
  return box;
}

/** What the user typed as a reject's reason next to `button`, if anything. */
export function feedbackFor(button: HTMLElement): string | undefined {
  const value = button.closest(".permission")?.querySelector<HTMLInputElement>("input.feedback")?.value.trim();
  return value ? value : undefined;
}

/** Disables the box's buttons and field and says how it ended. */
export function settleBox(doc: Document, box: HTMLElement, outcome: string, name: string): void {
  for (const control of box.querySelectorAll<HTMLButtonElement | HTMLInputElement>("button, input")) control.disabled = true;
  box.dataset.outcome = outcome;
  let result = box.querySelector<HTMLElement>(".permission-outcome");
  if (!result) {
    result = el(doc, "span", "permission-outcome");
    box.append(result);
  }
  result.textContent = name;
}
