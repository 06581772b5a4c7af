//! Reading `POST /v1/checkout/sessions`: the parameters async-stripe sends for a one-time
//! payment or a subscription, checked as strictly as Stripe checks them, into a new open
//! [`Session`].

use crate::api::expand_line_items;
use crate::error::ApiError;
use crate::objects::{
    new_id, IntervalUnit, InvoiceCreation, LineItem, Mode, Recurring, Session, SessionStatus,
    SubscriptionData, TaxIdCollection,
};
use crate::params::Params;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Currencies whose minimum charge is 50 minor units (Stripe's minimums for the others differ
/// and are not enforced).
const MIN_50: [&str; 5] = ["usd", "eur", "gbp", "cad", "aud"];
/// Stripe's largest amount for most currencies (eight digits).
const MAX_AMOUNT: i64 = 99_999_999;
/// The most items a subscription can have.
const MAX_SUBSCRIPTION_ITEMS: usize = 20;
/// `subscription_data[...]` that Stripe takes and the emulator does not model: refused by name,
/// so that no one mistakes them for typos.
const UNSUPPORTED_SUBSCRIPTION_DATA: [&str; 12] = [
    "application_fee_percent",
    "billing_cycle_anchor",
    "billing_mode",
    "default_tax_rates",
    "invoice_settings",
    "on_behalf_of",
    "pending_invoice_item_interval",
    "proration_behavior",
    "transfer_data",
    "trial_end",
    "trial_period_days",
    "trial_settings",
];

/// Reads `POST /v1/checkout/sessions` parameters into a new open session.
pub(crate) fn new_session(params: &mut Params, base: &str, now: i64) -> Result<(Session, bool)> {
    let mode = params
        .one_of("mode", &["payment", "setup", "subscription"])?
        .ok_or_else(|| ApiError::missing("mode"))?;
    let mode = match mode.as_str() {
        "payment" => Mode::Payment,
        "subscription" => Mode::Subscription,
        other => {
            return Err(ApiError::invalid(
                None,
                Some("mode"),
                format!("The Stripe emulator supports only `mode=payment` and `mode=subscription`, not `{other}`."),
            ))
        }
    };
    let subscribing = mode == Mode::Subscription;
    let success_url = params.required_string("success_url")?;
    check_url(&success_url, "success_url")?;
    let cancel_url = params.string("cancel_url")?.filter(|u| !u.is_empty());
    if let Some(url) = &cancel_url {
        check_url(url, "cancel_url")?;
    }
    let client_reference_id = params
        .string("client_reference_id")?
        .filter(|s| !s.is_empty());
    if client_reference_id
        .as_ref()
        .is_some_and(|s| s.chars().count() > 200)
    {
        return Err(ApiError::invalid(
            None,
            Some("client_reference_id"),
            "client_reference_id can be at most 200 characters long.",
        ));
    }
    let customer_email = params.string("customer_email")?.filter(|s| !s.is_empty());
    if let Some(email) = &customer_email {
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                Some("email_invalid"),
                Some("customer_email"),
                format!("Invalid email address: {email}"),
            ));
        }
    }
    let customer = params.string("customer")?.filter(|s| !s.is_empty());
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid(
            Some("parameters_exclusive"),
            Some("customer_email"),
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    let metadata = params.metadata("metadata")?.unwrap_or_default();
    let intent = match params.object("payment_intent_data")? {
        Some(_) if subscribing => {
            return Err(ApiError::invalid(
                None,
                Some("payment_intent_data"),
                "You can not pass `payment_intent_data` in `subscription` mode.",
            ))
        }
        Some(mut data) => {
            let metadata = data.metadata("metadata")?.unwrap_or_default();
            let description = data.string("description")?.filter(|s| !s.is_empty());
            let receipt_email = data.string("receipt_email")?.filter(|s| !s.is_empty());
            // Accepted so that code written for Stripe works; they only affect bank statements.
            for key in ["statement_descriptor", "statement_descriptor_suffix"] {
                if data.string(key)?.is_some_and(|s| s.chars().count() > 22) {
                    return Err(ApiError::invalid(
                        None,
                        Some(&data.name(key)),
                        format!("{} can be at most 22 characters long.", data.name(key)),
                    ));
                }
            }
            data.finish()?;
            (metadata, description, receipt_email)
        }
        None => Default::default(),
    };
    let (intent_metadata, intent_description, intent_receipt_email) = intent;
    let subscription_data = match params.object("subscription_data")? {
        Some(_) if !subscribing => {
            return Err(ApiError::invalid(
                None,
                Some("subscription_data"),
                "You can not pass `subscription_data` in `payment` mode.",
            ))
        }
        Some(data) => subscription_data(data)?,
        None => SubscriptionData::default(),
    };
    discounts(params)?;
    let expand = expand_line_items(params)?;
    let expires_at = match params.integer("expires_at")? {
        None => now + 24 * 3600,
        Some(t) if (now + 30 * 60 - 5..=now + 24 * 3600 + 5).contains(&t) => t,
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                Some("expires_at"),
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            ))
        }
    };
    let payment_method_types = params
        .string_list("payment_method_types")?
        .filter(|types| !types.is_empty())
        .unwrap_or_else(|| vec!["card".to_string()]);
    let currency = params.string("currency")?.map(|c| c.to_ascii_lowercase());
    if let Some(c) = &currency {
        check_currency(c, "currency")?;
    }
    let automatic_tax = automatic_tax(params)?;
    let tax_id_collection = tax_id_collection(params)?;
    let billing_address_collection =
        params.one_of("billing_address_collection", &["auto", "required"])?;
    let invoice_creation = invoice_creation(params)?;
    if subscribing && invoice_creation.is_some() {
        // Subscriptions make their own invoices.
        return Err(ApiError::invalid(
            None,
            Some("invoice_creation"),
            "`invoice_creation` can only be used in `payment` mode.",
        ));
    }

    let entries = params
        .object_list("line_items")?
        .filter(|items| !items.is_empty())
        .ok_or_else(|| ApiError::missing("line_items"))?;
    if entries.len() > 100 {
        return Err(ApiError::invalid(
            None,
            Some("line_items"),
            "A Checkout Session can have at most 100 line items.",
        ));
    }
    let mut items = Vec::with_capacity(entries.len());
    let mut session_currency = currency;
    for (i, entry) in entries.into_iter().enumerate() {
        let (item, item_currency) = line_item(entry)?;
        match &session_currency {
            Some(c) if *c != item_currency => {
                return Err(ApiError::invalid(
                    None,
                    Some(&format!("line_items[{i}][price_data][currency]")),
                    format!("All line items must use the same currency; expected `{c}`, got `{item_currency}`."),
                ))
            }
            Some(_) => {}
            None => session_currency = Some(item_currency),
        }
        items.push(item);
    }
    check_recurring(&items, mode)?;
    let currency = session_currency.unwrap_or_else(|| "usd".to_string());
    let total = items
        .iter()
        .try_fold(0i64, |sum, item| {
            item.unit_amount
                .checked_mul(item.quantity)
                .and_then(|a| sum.checked_add(a))
        })
        .filter(|t| *t <= MAX_AMOUNT);
    if total.is_none() {
        return Err(ApiError::invalid(
            Some("amount_too_large"),
            Some("line_items"),
            format!("The Checkout Session's total amount must be at most {MAX_AMOUNT} (in the currency's smallest unit)."),
        ));
    }
    params.finish()?;

    let id = new_id("cs_test_");
    let page_url = format!("{base}/pay/{id}");
    Ok((
        Session {
            id,
            mode,
            created: now,
            order: 0,
            expires_at,
            currency,
            items,
            success_url,
            cancel_url,
            client_reference_id,
            customer_email,
            metadata,
            payment_method_types,
            intent_metadata,
            intent_description,
            intent_receipt_email,
            status: SessionStatus::Open,
            paid: false,
            payment_intent: None,
            page_url,
            base_url: base.to_string(),
            automatic_tax,
            tax_id_collection,
            billing_address_collection,
            invoice_creation,
            billing: None,
            tax: None,
            invoice: None,
            customer,
            customer_on_file_email: None,
            subscription: None,
            subscription_data,
        },
        expand,
    ))
}

/// Payment mode takes only one-time prices; subscription mode recurring prices, all with the
/// same interval (Stripe would also add one-time prices to the first invoice, which the emulator
/// does not model).
fn check_recurring(items: &[LineItem], mode: Mode) -> Result<()> {
    let param = |i: usize| format!("line_items[{i}][price_data][recurring]");
    match mode {
        Mode::Payment => match items.iter().position(|item| item.recurring.is_some()) {
            Some(i) => Err(ApiError::invalid(
                None,
                Some(&param(i)),
                "You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.",
            )),
            None => Ok(()),
        },
        Mode::Subscription => {
            let Some(first) = items.iter().find_map(|item| item.recurring) else {
                return Err(ApiError::invalid(
                    None,
                    Some("line_items"),
                    "You must provide at least one recurring price in `subscription` mode when using prices.",
                ));
            };
            if let Some(i) = items.iter().position(|item| item.recurring.is_none()) {
                return Err(ApiError::invalid(
                    None,
                    Some(&param(i)),
                    "The Stripe emulator supports only recurring prices in `subscription` mode (one-time prices on the first invoice are not emulated).",
                ));
            }
            if let Some(i) = items.iter().position(|item| item.recurring != Some(first)) {
                return Err(ApiError::invalid(
                    None,
                    Some(&param(i)),
                    "All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count`.",
                ));
            }
            if items.len() > MAX_SUBSCRIPTION_ITEMS {
                return Err(ApiError::invalid(
                    None,
                    Some("line_items"),
                    format!("A subscription can have at most {MAX_SUBSCRIPTION_ITEMS} items."),
                ));
            }
            Ok(())
        }
    }
}

/// `subscription_data[metadata]` and `subscription_data[description]`.
fn subscription_data(mut data: Params) -> Result<SubscriptionData> {
    let out = SubscriptionData {
        metadata: data.metadata("metadata")?.unwrap_or_default(),
        description: limited(&mut data, "description", 500)?,
    };
    for key in UNSUPPORTED_SUBSCRIPTION_DATA {
        if data.keys().iter().any(|k| k == key) {
            return Err(ApiError::invalid(
                None,
                Some(&data.name(key)),
                format!("The Stripe emulator does not support `{}`.", data.name(key)),
            ));
        }
    }
    data.finish()?;
    Ok(out)
}

/// `discounts[n][coupon|promotion_code]`: the emulated account has neither.
fn discounts(params: &mut Params) -> Result<()> {
    for mut discount in params.object_list("discounts")?.unwrap_or_default() {
        for (key, kind) in [("coupon", "coupon"), ("promotion_code", "promotion code")] {
            if let Some(id) = discount.string(key)?.filter(|s| !s.is_empty()) {
                return Err(ApiError::invalid(
                    Some("resource_missing"),
                    Some(&discount.name(key)),
                    format!("No such {kind}: '{id}'"),
                ));
            }
        }
        discount.finish()?;
    }
    Ok(())
}

/// `price_data[recurring][interval|interval_count]`.
fn recurring(price: &mut Params) -> Result<Option<Recurring>> {
    let Some(mut recurring) = price.object("recurring")? else {
        return Ok(None);
    };
    let unit = recurring
        .one_of("interval", &["day", "month", "week", "year"])?
        .and_then(|u| IntervalUnit::parse(&u))
        .ok_or_else(|| ApiError::missing(&recurring.name("interval")))?;
    let count_name = recurring.name("interval_count");
    let count = match recurring.integer("interval_count")? {
        None => 1,
        Some(n) if n >= 1 && n <= i64::from(unit.max_count()) => n as u32,
        Some(n) if n < 1 => {
            return Err(ApiError::invalid(
                Some("parameter_invalid_integer"),
                Some(&count_name),
                "This value must be greater than or equal to 1.",
            ))
        }
        Some(_) => return Err(ApiError::invalid(
            None,
            Some(&count_name),
            "The maximum billing interval is one year (1 year, 12 months, 52 weeks or 365 days).",
        )),
    };
    recurring.finish()?;
    Ok(Some(Recurring { unit, count }))
}

/// One `line_items[n]`: `price_data` (inline price and product) and `quantity`.
fn line_item(mut entry: Params) -> Result<(LineItem, String)> {
    if let Some(price) = entry.string("price")? {
        // There is no catalogue in the emulator: a price id can never exist.
        return Err(ApiError::invalid(
            Some("resource_missing"),
            Some(&entry.name("price")),
            format!("No such price: '{price}'; the Stripe emulator supports only `price_data`."),
        ));
    }
    let mut price = entry
        .object("price_data")?
        .ok_or_else(|| ApiError::missing(&entry.name("price_data")))?;
    let currency = price.required_string("currency")?.to_ascii_lowercase();
    check_currency(&currency, &price.name("currency"))?;
    let amount_name = price.name("unit_amount");
    let unit_amount =
        match (
            price.integer("unit_amount")?,
            price.string("unit_amount_decimal")?,
        ) {
            (Some(amount), None) => amount,
            (None, Some(decimal)) => whole_minor_units(&decimal).ok_or_else(|| {
                ApiError::invalid(
                    None,
                    Some(&price.name("unit_amount_decimal")),
                    "The Stripe emulator supports only whole amounts in `unit_amount_decimal`.",
                )
            })?,
            (Some(_), Some(_)) => return Err(ApiError::invalid(
                Some("parameters_exclusive"),
                Some(&amount_name),
                "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            )),
            (None, None) => return Err(ApiError::missing(&amount_name)),
        };
    let tax_behavior = price.one_of("tax_behavior", &["exclusive", "inclusive", "unspecified"])?;
    let recurring = recurring(&mut price)?;
    if unit_amount < 0 {
        return Err(ApiError::invalid(
            Some("parameter_invalid_integer"),
            Some(&amount_name),
            "This value must be greater than or equal to 0.",
        ));
    }
    if MIN_50.contains(&currency.as_str()) && unit_amount < 50 {
        return Err(ApiError::invalid(
            Some("amount_too_small"),
            Some(&amount_name),
            format!(
                "The unit amount must be at least 50 (0.50 {}).",
                currency.to_uppercase()
            ),
        ));
    }
    if let Some(product) = price.string("product")? {
        return Err(ApiError::invalid(
            Some("resource_missing"),
            Some(&price.name("product")),
            format!(
                "No such product: '{product}'; the Stripe emulator supports only `product_data`."
            ),
        ));
    }
    let mut product = price
        .object("product_data")?
        .ok_or_else(|| ApiError::missing(&price.name("product_data")))?;
    let name = product.required_string("name")?;
    let description = product.string("description")?.filter(|s| !s.is_empty());
    // Image URLs are checked but not kept: the page shows no external assets.
    let images = product.string_list("images")?.unwrap_or_default();
    if images.len() > 8 {
        return Err(ApiError::invalid(
            None,
            Some(&product.name("images")),
            "A product can have at most 8 images.",
        ));
    }
    // Accepted for compatibility; products are not stored.
    product.metadata("metadata")?;
    product.string("tax_code")?;
    product.string("unit_label")?;
    product.finish()?;
    price.finish()?;
    let quantity_name = entry.name("quantity");
    let quantity = entry
        .integer("quantity")?
        .ok_or_else(|| ApiError::missing(&quantity_name))?;
    if quantity < 1 {
        return Err(ApiError::invalid(
            Some("parameter_invalid_integer"),
            Some(&quantity_name),
            "Quantity must be at least 1.",
        ));
    }
    // Line item metadata is accepted and, like Stripe's, not shown on the session.
    entry.metadata("metadata")?;
    entry.finish()?;
    Ok((
        LineItem {
            id: new_id("li_"),
            price_id: new_id("price_"),
            product_id: new_id("prod_"),
            name,
            description,
            unit_amount,
            quantity,
            tax_behavior,
            recurring,
        },
        currency,
    ))
}

/// `automatic_tax[enabled]` (and `automatic_tax[liability][type]=self`): Stripe Tax computes the
/// tax from the customer's address on the page.
fn automatic_tax(params: &mut Params) -> Result<bool> {
    let Some(mut tax) = params.object("automatic_tax")? else {
        return Ok(false);
    };
    let enabled = required_boolean(&mut tax, "enabled")?;
    if let Some(mut liability) = tax.object("liability")? {
        let kind = liability
            .one_of("type", &["account", "self"])?
            .ok_or_else(|| ApiError::missing(&liability.name("type")))?;
        if kind == "account" {
            // There are no connected accounts in the emulator.
            return Err(ApiError::invalid(
                None,
                Some(&liability.name("type")),
                "The Stripe emulator supports only `automatic_tax[liability][type]=self`.",
            ));
        }
        liability.finish()?;
    }
    tax.finish()?;
    Ok(enabled)
}

/// `tax_id_collection[enabled]` and `tax_id_collection[required]`.
fn tax_id_collection(params: &mut Params) -> Result<TaxIdCollection> {
    let Some(mut collection) = params.object("tax_id_collection")? else {
        return Ok(TaxIdCollection::default());
    };
    let enabled = required_boolean(&mut collection, "enabled")?;
    let required = match collection
        .one_of("required", &["if_supported", "never"])?
        .as_deref()
    {
        Some("if_supported") => "if_supported",
        _ => "never",
    };
    collection.finish()?;
    Ok(TaxIdCollection { enabled, required })
}

/// `invoice_creation[enabled]` and `invoice_creation[invoice_data][...]`.
fn invoice_creation(params: &mut Params) -> Result<Option<InvoiceCreation>> {
    let Some(mut creation) = params.object("invoice_creation")? else {
        return Ok(None);
    };
    let enabled = required_boolean(&mut creation, "enabled")?;
    let mut out = InvoiceCreation {
        enabled,
        ..InvoiceCreation::default()
    };
    if let Some(mut data) = creation.object("invoice_data")? {
        out.metadata = data.metadata("metadata")?.unwrap_or_default();
        out.description = limited(&mut data, "description", 1500)?;
        out.footer = limited(&mut data, "footer", 5000)?;
        for mut field in data.object_list("custom_fields")?.unwrap_or_default() {
            let name = field.required_string("name")?;
            let value = field.required_string("value")?;
            if name.chars().count() > 40 || value.chars().count() > 140 {
                return Err(ApiError::invalid(
                    None,
                    Some(&field.name("name")),
                    "Custom field names can be at most 40 characters long and values at most 140.",
                ));
            }
            field.finish()?;
            out.custom_fields.push((name, value));
        }
        if out.custom_fields.len() > 4 {
            return Err(ApiError::invalid(
                None,
                Some(&data.name("custom_fields")),
                "An invoice can have at most 4 custom fields.",
            ));
        }
        if let Some(mut rendering) = data.object("rendering_options")? {
            out.amount_tax_display = rendering
                .one_of(
                    "amount_tax_display",
                    &["", "exclude_tax", "include_inclusive_tax"],
                )?
                .filter(|d| !d.is_empty());
            rendering.finish()?;
        }
        if let Some(ids) = data
            .string_list("account_tax_ids")?
            .filter(|ids| !ids.is_empty())
        {
            // The emulated account has no tax ID objects.
            return Err(ApiError::invalid(
                Some("resource_missing"),
                Some(&format!("{}[0]", data.name("account_tax_ids"))),
                format!("No such tax ID: '{}'", ids[0]),
            ));
        }
        data.finish()?;
    }
    creation.finish()?;
    Ok(Some(out))
}

fn required_boolean(params: &mut Params, key: &str) -> Result<bool> {
    params
        .boolean(key)?
        .ok_or_else(|| ApiError::missing(&params.name(key)))
}

/// An optional, non-empty string of at most `max` characters.
fn limited(params: &mut Params, key: &str, max: usize) -> Result<Option<String>> {
    let value = params.string(key)?.filter(|s| !s.is_empty());
    if value.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(ApiError::invalid(
            None,
            Some(&params.name(key)),
            format!("{} can be at most {max} characters long.", params.name(key)),
        ));
    }
    Ok(value)
}

/// `"1999"` or `"1999.0"` as 1999; fractions of a minor unit are not supported.
fn whole_minor_units(decimal: &str) -> Option<i64> {
    let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    if !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse().ok()
}

pub(crate) fn check_url(url: &str, param: &str) -> Result<()> {
    let ok = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    });
    if ok && url.len() <= 5000 && !url.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            Some("url_invalid"),
            Some(param),
            format!("Not a valid URL: {param}"),
        ))
    }
}

fn check_currency(currency: &str, param: &str) -> Result<()> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            None,
            Some(param),
            format!("Invalid currency: {currency}."),
        ))
    }
}
