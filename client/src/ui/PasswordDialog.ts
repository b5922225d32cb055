/**
 * Modal asking for a locked room's password. Resolves with the password, or null when
 * the user gives up (Cancel or Escape) or when `signal` aborts, e.g. because the user
 * navigated elsewhere while the dialog was open.
 */
import { h } from '../lib/dom.js';

export function askPassword(roomId: string, retry: boolean, signal: AbortSignal): Promise<string | null> {
  if (signal.aborted) return Promise.resolve(null);
  return new Promise((resolve) => {
    const input = h('input', {
      class: 'input',
      type: 'password',
      'data-testid': 'password-input',
      placeholder: 'Room password',
      autocomplete: 'current-password',
      required: true,
      maxlength: 128,
    });
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      finish(null);
    };
    const onAbort = () => finish(null);
    const finish = (value: string | null) => {
      document.removeEventListener('keydown', onKey);
      signal.removeEventListener('abort', onAbort);
      backdrop.remove();
      resolve(value);
    };
    const title = h('h2', { id: 'password-dialog-title' }, 'This room is locked');
    const form = h(
      'form',
      {
        class: 'modal card',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (input.value) finish(input.value);
        },
      },
      title,
      h('p', {}, `Enter the password for “${roomId}”.`),
      input,
      retry ? h('div', { class: 'form-error', role: 'alert' }, 'Wrong password, try again.') : null,
      h(
        'div',
        { class: 'modal-actions' },
        h('button', { class: 'btn ghost', type: 'button', onclick: () => finish(null) }, 'Cancel'),
        h('button', { class: 'btn primary', type: 'submit' }, 'Join'),
      ),
    );
    const backdrop = h(
      'div',
      {
        class: 'modal-backdrop',
        role: 'dialog',
        'aria-modal': 'true',
        'aria-labelledby': title.id,
        'data-testid': 'password-dialog',
      },
      form,
    );
    // On the document, so that Escape works wherever focus went, not only in the field.
    document.addEventListener('keydown', onKey);
    signal.addEventListener('abort', onAbort);
    document.body.appendChild(backdrop);
    input.focus();
  });
}
