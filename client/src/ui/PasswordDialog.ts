/**
 * Modal asking for a locked room's password. Resolves with the password, or null when
 * the user gives up.
 */
import { h } from '../lib/dom.js';

export function askPassword(roomId: string, retry: boolean): Promise<string | null> {
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
    const finish = (value: string | null) => {
      backdrop.remove();
      resolve(value);
    };
    const form = h(
      'form',
      {
        class: 'modal card',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (input.value) finish(input.value);
        },
      },
      h('h2', {}, 'This room is locked'),
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
    const backdrop = h('div', { class: 'modal-backdrop', role: 'dialog', 'aria-modal': 'true' }, form);
    document.body.appendChild(backdrop);
    input.focus();
  });
}
