import { parseCommand, type TextMessage, type VoiceMessage } from '@wxbot/core';

/**
 * The text message a transcript becomes: the voice message's envelope (id, channel, sender,
 * time, KF ids, raw fields), the text, `transcribedFrom` pointing at the voice, and a parsed
 * `command` when the text starts with `/` — so later plugins treat it as if it were typed.
 */
export function transcribedText(voice: VoiceMessage, text: string): TextMessage {
  const { type: _type, mediaId: _mediaId, format: _format, recognition: _recognition, ...envelope } = voice;
  const command = parseCommand(text);
  return { ...envelope, type: 'text', text, transcribedFrom: voice, ...(command && { command }) };
}

/** Fills `{text}` in the echo template (a function replacement, so `$&` in a transcript stays as is). */
export function fillTemplate(template: string, text: string): string {
  return template.replaceAll('{text}', () => text);
}
