import { field, type XmlFields } from '../xml.ts';
import type { SubscriptionChange, WeChatEvent } from './types.ts';

/*
 * The events of Official Accounts and WeCom apps that have a typed shape beyond the basic
 * ones of fromXml.ts (menus, mass/template sends, subscription messages, contacts, cards,
 * approvals). Field names follow WeChat's documentation; everything else stays in `raw`.
 */

const optional = (value: string): string | undefined => (value === '' ? undefined : value);
const optionalNumber = (value: string): number | undefined => (value === '' ? undefined : Number(value));

/** A nested element as fields ({} when absent or a leaf). */
function child(fields: XmlFields, name: string): XmlFields {
  const value = fields[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first !== null && typeof first === 'object' ? (first as XmlFields) : {};
}

/** A repeated element as a list (one occurrence parses as a single value). */
function list(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function subscriptions(container: XmlFields): SubscriptionChange[] {
  return list(container['List']).map((item) => {
    const f = field.bind(null, (item ?? {}) as XmlFields);
    return {
      templateId: f('TemplateId'),
      status: optional(f('SubscribeStatusString')),
      popupScene: optional(f('PopupScene')),
      msgId: optional(f('MsgID')),
      errorCode: optional(f('ErrorCode')),
      errorStatus: optional(f('ErrorStatus')),
    };
  });
}

/**
 * A WeCom app template card's choices: `SelectedItems.SelectedItem[]` of QuestionKey and
 * `OptionIds.OptionId[]` (WeCom's own samples also spell it "OpitonIds"), as question → option ids.
 */
export function selectedItems(fields: XmlFields): Record<string, string[]> {
  const selected: Record<string, string[]> = {};
  for (const item of list(child(fields, 'SelectedItems')['SelectedItem'])) {
    const entry = (item ?? {}) as XmlFields;
    const question = field(entry, 'QuestionKey');
    if (!question || question === '__proto__') continue;
    const ids = child(entry, 'OptionIds');
    const options = Object.keys(ids).length > 0 ? ids['OptionId'] : child(entry, 'OpitonIds')['OpitonId'];
    selected[question] = list(options).map((id) => String(id));
  }
  return selected;
}

/** The typed shape of event `name` (lower case), or undefined when it has none. */
export function typedXmlEvent(name: string, fields: XmlFields): WeChatEvent | undefined {
  const f = field.bind(null, fields);
  switch (name) {
    case 'scancode_push':
    case 'scancode_waitmsg': {
      const info = child(fields, 'ScanCodeInfo');
      return { event: name, eventKey: f('EventKey'), scanType: field(info, 'ScanType'), scanResult: field(info, 'ScanResult') };
    }
    case 'pic_sysphoto':
    case 'pic_photo_or_album':
    case 'pic_weixin': {
      const info = child(fields, 'SendPicsInfo');
      const picMd5Sums = list(child(info, 'PicList')['item']).map((item) => field((item ?? {}) as XmlFields, 'PicMd5Sum'));
      return { event: name, eventKey: f('EventKey'), count: Number(field(info, 'Count') || picMd5Sums.length), picMd5Sums };
    }
    case 'location_select': {
      const info = child(fields, 'SendLocationInfo');
      const g = field.bind(null, info);
      return {
        event: name,
        eventKey: f('EventKey'),
        latitude: Number(g('Location_X')),
        longitude: Number(g('Location_Y')),
        scale: optionalNumber(g('Scale')),
        label: optional(g('Label')),
        poiname: optional(g('Poiname')),
      };
    }
    case 'view_miniprogram':
      return { event: name, pagePath: f('EventKey'), menuId: optional(f('MenuId')) };
    case 'masssendjobfinish':
      return {
        event: name,
        msgId: f('MsgID') || f('MsgId'),
        status: f('Status'),
        totalCount: Number(f('TotalCount') || 0),
        filterCount: Number(f('FilterCount') || 0),
        sentCount: Number(f('SentCount') || 0),
        errorCount: Number(f('ErrorCount') || 0),
      };
    case 'templatesendjobfinish':
      return { event: name, msgId: f('MsgID') || f('MsgId'), status: f('Status') };
    case 'subscribe_msg_popup_event':
      return { event: name, subscriptions: subscriptions(child(fields, 'SubscribeMsgPopupEvent')) };
    case 'subscribe_msg_change_event':
      return { event: name, subscriptions: subscriptions(child(fields, 'SubscribeMsgChangeEvent')) };
    case 'subscribe_msg_sent_event':
      return { event: name, subscriptions: subscriptions(child(fields, 'SubscribeMsgSentEvent')) };
    case 'change_contact':
      return {
        event: name,
        changeType: f('ChangeType'),
        userId: optional(f('UserID')),
        newUserId: optional(f('NewUserID')),
        partyId: optional(f('Id')),
        tagId: optional(f('TagId')),
      };
    case 'change_external_contact':
      return {
        event: name,
        changeType: f('ChangeType'),
        userId: optional(f('UserID')),
        externalUserId: optional(f('ExternalUserID')),
        state: optional(f('State')),
        welcomeCode: optional(f('WelcomeCode')),
      };
    case 'change_external_chat':
      return { event: name, changeType: f('ChangeType'), chatId: f('ChatId'), updateDetail: optional(f('UpdateDetail')) };
    case 'change_external_tag':
      return { event: name, changeType: f('ChangeType'), tagId: f('Id'), tagType: optional(f('TagType')) };
    case 'batch_job_result': {
      const job = field.bind(null, child(fields, 'BatchJob'));
      return { event: name, jobId: job('JobId'), jobType: job('JobType'), errCode: Number(job('ErrCode') || 0), errMsg: job('ErrMsg') };
    }
    case 'taskcard_click':
      return { event: name, eventKey: f('EventKey'), taskId: f('TaskId') };
    case 'open_approval_change': {
      const info = field.bind(null, child(fields, 'ApprovalInfo'));
      return {
        event: name,
        thirdNo: info('ThirdNo'),
        openSpStatus: Number(info('OpenSpStatus') || 0),
        openTemplateId: optional(info('OpenTemplateId')),
        openSpName: optional(info('OpenSpName')),
      };
    }
    default:
      return undefined;
  }
}
