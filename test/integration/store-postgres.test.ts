import { describeStoreContract } from "./store-contract.ts";

describeStoreContract("postgres");
