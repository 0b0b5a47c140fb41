"""The console's words in Russian and English (staff choose; Russian by default)."""

from __future__ import annotations

from collections.abc import Callable

WORDS: dict[str, tuple[str, str]] = {
    "console": ("Консоль промоакции", "Promo console"),
    "login": ("Вход", "Sign in"), "username": ("Логин", "Username"), "password": ("Пароль", "Password"),
    "logout": ("Выйти", "Sign out"), "wrong_login": ("Неверный логин или пароль.", "Wrong username or password."),
    "throttled": ("Слишком много неудачных попыток. Подождите 15 минут.",
                  "Too many failed attempts. Wait 15 minutes."),
    "tickets": ("Обращения", "Tickets"), "moderation": ("Модерация чеков", "Receipt moderation"),
    "dashboard": ("Дашборд", "Dashboard"), "staff": ("Сотрудники", "Staff"), "audit": ("Журнал действий", "Audit log"),
    "new": ("Новые", "New"), "open": ("В работе", "Open"), "waiting": ("Ждём ответа", "Waiting"),
    "closed": ("Закрытые", "Closed"), "all_open": ("Все открытые", "All open"),
    "mine": ("Мои", "Mine"), "unassigned": ("Без исполнителя", "Unassigned"), "anyone": ("Все", "Everyone"),
    "campaign": ("Акция", "Campaign"), "filter": ("Показать", "Show"), "person": ("Участник", "Person"),
    "subject": ("Тема", "Subject"), "status": ("Статус", "Status"), "assigned": ("Исполнитель", "Assignee"),
    "since_person": ("С последнего сообщения", "Since their last message"), "channel": ("Канал", "Channel"),
    "overdue": ("просрочено", "overdue"), "sla": ("Цель ответа", "Answer target"), "hours": ("ч", "h"),
    "no_tickets": ("Обращений нет.", "No tickets."), "ticket": ("Обращение", "Ticket"),
    "reply": ("Ответить", "Reply"),
    "reply_router": ("через роутер (лучший канал)", "through the router (best channel)"),
    "reply_here": ("в канал обращения", "to the ticket's channel"), "note": ("Заметка для коллег", "Internal note"),
    "add_note": ("Добавить заметку", "Add note"), "assign": ("Назначить", "Assign"), "nobody": ("никому", "nobody"),
    "set_status": ("Сменить статус", "Change status"), "canned": ("Шаблон ответа", "Canned reply"),
    "use": ("Вставить", "Insert"), "timeline": ("Всё о человеке во всех каналах", "Everything across channels"),
    "older": ("Ранее", "Older"), "inbound": ("написал(а)", "wrote"), "outbound": ("мы отправили", "we sent"),
    "receipt": ("Чек", "Receipt"), "ledger": ("Движение кешбэка", "Cashback movement"),
    "merge": ("Объединение профилей", "Profiles joined"), "ticket_event": ("Обращение", "Ticket"),
    "tl_draw_entries": ("Участие в розыгрыше", "Draw entries"), "tl_win": ("Выигрыш в розыгрыше", "Draw win"),
    "tl_route": ("Выбор канала", "Channel chosen"), "tl_entries": ("шансов", "entries"), "tl_of": ("из", "of"),
    "tl_receipts": ("чеков", "receipts"), "tl_reserve": ("резерв", "reserve"), "tl_place": ("место", "place"),
    "tl_message": ("сообщение", "message"), "tl_round": ("попытка", "round"), "tl_nowhere": ("никуда", "nowhere"),
    "tl_more": ("ещё", "more"),
    "rating": ("Оценка", "Rating"), "photo": ("Фото", "Photo"), "approve": ("Одобрить", "Approve"),
    "reject": ("Отклонить", "Reject"), "reason": ("Причина (человек её увидит)", "Reason (the person sees it)"),
    "flagged": ("Тот же чек прислал другой участник", "Another person sent the same receipt"),
    "no_receipts": ("Чеков на модерации нет.", "No receipts wait for moderation."),
    "sum": ("Сумма", "Sum"), "cashback": ("Кешбэк", "Cashback"), "sent_at": ("Прислан", "Sent"),
    "accounts": ("Аккаунты", "Accounts"), "merges": ("Объединения", "Merges"), "evidence": ("Основание", "Evidence"),
    "undo": ("Разъединить", "Undo merge"), "undone": ("разъединено", "undone"),
    "export": ("Выгрузить данные", "Export data"),
    "erase": ("Удалить персональные данные", "Erase personal data"),
    "erase_confirm": ("Удалить безвозвратно? Суммы и номера участия останутся обезличенными.",
                      "Erase for good? Amounts and entry numbers stay, without the identity."),
    "erased": ("Данные удалены", "Data erased"), "balance": ("Баланс", "Balance"),
    "registered": ("Зарегистрирован", "Registered"), "phone": ("Телефон", "Phone"), "email": ("E-mail", "E-mail"),
    "name": ("Имя", "Name"), "role": ("Роль", "Role"), "create": ("Создать", "Create"),
    "no_access": ("Нет доступа к этой странице.", "You may not open this page."),
    "csrf": ("Форма устарела — обновите страницу и попробуйте ещё раз.", "The form expired — reload and try again."),
    "not_found": ("Не найдено.", "Not found."), "saved": ("Сохранено.", "Saved."),
    "receipts_per_day": ("Чеки по дням", "Receipts per day"), "outcomes": ("Принято и отказано", "Accepted vs refused"),
    "channel_mix": ("Каналы", "Channel mix"), "funnel": ("Воронка", "Funnel"),
    "deliveries": ("Доставка по каналам", "Delivery per channel"), "last_days": ("за 30 дней", "last 30 days"),
    "scanned": ("Пришли в бот", "Reached a bot"), "first_receipt": ("Прислали чек", "Sent a receipt"),
    "rewarded": ("Получили награду", "Rewarded"), "fallback": ("через запасной канал", "by a fallback"),
    "language": ("English", "Русский"), "when": ("Когда", "When"), "action": ("Действие", "Action"),
    "target": ("Объект", "Target"), "who": ("Кто", "Who"), "person_page": ("Карточка участника", "Person"),
    "nothing": ("Пусто.", "Nothing yet."), "delivered": ("доставлено", "delivered"),
    "cannot_undo": ("Нельзя разъединить", "Cannot undo"), "active": ("Активен", "Active"),
    "deactivate": ("Отключить", "Deactivate"), "password_rule": ("не короче 10 символов", "at least 10 characters"),
    "refusals": ("Отказы по причинам", "Refusals by reason"), "accepted": ("принят", "accepted"),
    "moderation_status": ("на модерации", "in moderation"), "rejected": ("отклонён", "rejected"),
    "verifying": ("проверяется", "verifying"), "tickets_of_person": ("Обращения участника", "Their tickets"),
}


def translator(locale: str) -> Callable[[str], str]:
    index = 1 if locale == "en" else 0

    def translate(key: str) -> str:
        pair = WORDS.get(key)
        return pair[index] if pair else key

    return translate
