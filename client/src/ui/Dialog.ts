/**
 * Modal dialogs for moderator actions: a confirmation before something that cannot be undone
 * (removing someone, ending the meeting) and the new password of a room being locked.
 * Escape or Cancel gives up; focus goes back to where it was.
 */
import { h } from '../lib/dom.js';

interface DialogOptions {
  title: string;
  text: string;
  confirmLabel: string;
  danger?: boolean;
  /** Asks for a password, which the dialog resolves with. */
  password?: boolean;
  testId: string;
}

let dialogSeq = 0;

/** Resolves with the password (or '' without one) when confirmed, null when cancelled. */
function openDialog(options: DialogOptions): Promise<string | null> {
  return new Promise((resolve) => {
    const before = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    const titleId = `dialog-title-${++dialogSeq}`;
    const input = options.password
      ? h('input', {
          class: 'input',
          type: 'password',
          'aria-label': 'New room password',
          placeholder: 'New room password',
          autocomplete: 'new-password',
          'data-testid': `${options.testId}-input`,
          required: true,
          maxlength: 128,
        })
      : null;
    const confirm = h(
      'button',
      { class: `btn ${options.danger ? 'danger' : 'primary'}`, type: 'submit', 'data-testid': `${options.testId}-confirm` },
      options.confirmLabel,
    );
    const onKey = (e: KeyboardEvent): void => {
      if (e.key !== 'Escape') return;
      e.preventDefault();
      e.stopPropagation();
      finish(null);
    };
    const finish = (value: string | null): void => {
      document.removeEventListener('keydown', onKey, true);
      backdrop.remove();
      if (before?.isConnected) before.focus();
      resolve(value);
    };
    const form = h(
      'form',
      {
        class: 'modal card',
        onsubmit: (e: Event) => {
          e.preventDefault();
          if (input && !input.value) return;
          finish(input?.value ?? '');
        },
      },
      h('h2', { id: titleId }, options.title),
      h('p', {}, options.text),
      input,
      h(
        'div',
        { class: 'modal-actions' },
        h('button', { class: 'btn ghost', type: 'button', onclick: () => finish(null) }, 'Cancel'),
        confirm,
      ),
    );
    const backdrop = h(
      'div',
      { class: 'modal-backdrop', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'data-testid': options.testId },
      form,
    );
    // Captured on the document, so that Escape closes the dialog and nothing under it.
    document.addEventListener('keydown', onKey, true);
    document.body.appendChild(backdrop);
    (input ?? confirm).focus();
  });
}

export async function confirmDialog(options: Omit<DialogOptions, 'password'>): Promise<boolean> {
  return (await openDialog(options)) !== null;
}

export function passwordDialog(options: Omit<DialogOptions, 'password'>): Promise<string | null> {
  return openDialog({ ...options, password: true });
}
